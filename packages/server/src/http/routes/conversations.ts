import {
  AddParticipantsBody,
  ChangeRoleBody,
  Conversation,
  ConversationIdParams,
  ConversationList,
  ConversationListQuery,
  CreateAssistantBody,
  CreateDirectBody,
  CreateGroupBody,
  ParticipantParams,
  UpdateConversationBody,
} from '@confab/protocol';
import type { Context } from '../../context.ts';
import * as conversations from '../../operations/conversations.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

export function conversationRoutes(app: App, ctx: Context) {
  const tags = ['conversations'];
  const security = [{ bearer: [] }];
  const params = ConversationIdParams;

  app.post('/api/conversations/direct', { schema: { tags, security, body: CreateDirectBody, response: { 200: Conversation, 201: Conversation } } }, async (req, reply) => {
    const { conversation, created } = await conversations.createDirect(ctx, await requireUser(ctx, req), req.body.userId);
    return reply.status(created ? 201 : 200).send(conversation);
  });
  app.post('/api/conversations/group', { schema: { tags, security, body: CreateGroupBody, response: { 201: Conversation } } }, async (req, reply) =>
    reply.status(201).send(await conversations.createGroup(ctx, await requireUser(ctx, req), req.body)),
  );
  app.post('/api/conversations/assistant', { schema: { tags, security, body: CreateAssistantBody, response: { 201: Conversation } } }, async (req, reply) =>
    reply.status(201).send(await conversations.createAssistant(ctx, await requireUser(ctx, req), req.body)),
  );
  app.get('/api/conversations', { schema: { tags, security, querystring: ConversationListQuery, response: { 200: ConversationList } } }, async (req) =>
    conversations.listConversations(ctx, await requireUser(ctx, req), req.query),
  );
  app.get('/api/conversations/:id', { schema: { tags, security, params, response: { 200: Conversation } } }, async (req) =>
    conversations.getConversation(ctx, await requireUser(ctx, req), req.params.id),
  );
  app.patch('/api/conversations/:id', { schema: { tags, security, params, body: UpdateConversationBody, response: { 200: Conversation } } }, async (req) =>
    conversations.updateConversation(ctx, await requireUser(ctx, req), req.params.id, req.body),
  );
  app.delete('/api/conversations/:id', { schema: { tags, security, params } }, async (req, reply) => {
    await conversations.deleteConversation(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });

  app.post('/api/conversations/:id/participants', { schema: { tags, security, params, body: AddParticipantsBody, response: { 200: Conversation } } }, async (req) =>
    conversations.addParticipants(ctx, await requireUser(ctx, req), req.params.id, req.body),
  );
  app.delete('/api/conversations/:id/participants/:userId', { schema: { tags, security, params: ParticipantParams } }, async (req, reply) => {
    await conversations.removeParticipant(ctx, await requireUser(ctx, req), req.params.id, req.params.userId);
    return reply.status(204).send();
  });
  app.patch('/api/conversations/:id/participants/:userId', { schema: { tags, security, params: ParticipantParams, body: ChangeRoleBody, response: { 200: Conversation } } }, async (req) =>
    conversations.changeRole(ctx, await requireUser(ctx, req), req.params.id, req.params.userId, req.body.role),
  );
}
