import {
  ConversationIdParams,
  ConversationMessagesParams,
  EditMessageBody,
  Message,
  MessageIdParams,
  MessageList,
  MessageListQuery,
  MessageStatusBody,
  MessageStatusResult,
  MessageVersionList,
  ReactionBody,
  ReactionParams,
  SearchQuery,
  SearchResult,
  SendMessageBody,
} from '@confab/protocol';
import type { Context } from '../../context.ts';
import * as messages from '../../operations/messages.ts';
import { search } from '../../operations/search.ts';
import { listMessageVersions } from '../../operations/versions.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

export function messageRoutes(app: App, ctx: Context) {
  const tags = ['messages'];
  const security = [{ bearer: [] }];
  app.get(
    '/api/conversations/:id/messages',
    {
      schema: {
        tags,
        security,
        summary: 'One page of a conversation’s messages, oldest first',
        params: ConversationIdParams,
        querystring: MessageListQuery,
        response: { 200: MessageList },
      },
    },
    async (req) => messages.listMessages(ctx, await requireUser(ctx, req), req.params.id, req.query),
  );
  // The same, at its first path, for existing clients; hidden from the description, where it would
  // differ from /api/messages/{id} only by its parameter's name.
  app.get(
    '/api/messages/:conversationId',
    { schema: { hide: true, tags, security, params: ConversationMessagesParams, querystring: MessageListQuery, response: { 200: MessageList } } },
    async (req) => messages.listMessages(ctx, await requireUser(ctx, req), req.params.conversationId, req.query),
  );
  app.post('/api/messages', { schema: { tags, security, body: SendMessageBody, response: { 200: Message, 201: Message } } }, async (req, reply) => {
    const { message, created } = await messages.sendMessage(ctx, await requireUser(ctx, req), req.body);
    if (created) ctx.metrics?.messagesSent.inc({ transport: 'rest' });
    return reply.status(created ? 201 : 200).send(message);
  });
  app.patch('/api/messages/:id', { schema: { tags, security, params: MessageIdParams, body: EditMessageBody, response: { 200: Message } } }, async (req) =>
    messages.editMessage(ctx, await requireUser(ctx, req), req.params.id, req.body.content),
  );
  app.delete('/api/messages/:id', { schema: { tags, security, params: MessageIdParams, response: { 200: Message } } }, async (req) =>
    messages.deleteMessage(ctx, await requireUser(ctx, req), req.params.id),
  );
  app.get(
    '/api/messages/:id/versions',
    { schema: { tags, security, summary: 'A message’s versions (edits, regenerated answers), oldest first, the current one last', params: MessageIdParams, response: { 200: MessageVersionList } } },
    async (req) => listMessageVersions(ctx, await requireUser(ctx, req), req.params.id),
  );
  app.post(
    '/api/messages/:id/status',
    { schema: { tags, security, params: MessageIdParams, body: MessageStatusBody, response: { 200: MessageStatusResult } } },
    async (req) => messages.markStatus(ctx, await requireUser(ctx, req), req.params.id, req.body.status),
  );
  app.post('/api/messages/:id/reactions', { schema: { tags, security, params: MessageIdParams, body: ReactionBody, response: { 200: Message } } }, async (req) =>
    messages.setReaction(ctx, await requireUser(ctx, req), req.params.id, req.body.emoji, true),
  );
  app.delete('/api/messages/:id/reactions/:emoji', { schema: { tags, security, params: ReactionParams, response: { 200: Message } } }, async (req) =>
    messages.setReaction(ctx, await requireUser(ctx, req), req.params.id, req.params.emoji, false),
  );
  app.get('/api/search', { schema: { tags: ['search'], security, querystring: SearchQuery, response: { 200: SearchResult } } }, async (req) =>
    search(ctx, await requireUser(ctx, req), req.query),
  );
}
