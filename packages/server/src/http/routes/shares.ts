import { BranchBody, Conversation, ConversationIdParams, ConversationShare, ConversationShareList, SharedParams, SharedSnapshot, ShareParams } from '@confab/protocol';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.ts';
import { branchConversation } from '../../operations/branches.ts';
import * as shares from '../../operations/shares.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** AI conversations: branches, and shared snapshots with their public page (docs/ai.md). */
export function shareRoutes(app: App, ctx: Context) {
  const tags = ['ai conversations'];
  const security = [{ bearer: [] }];
  // The origin the request came to, for the share's URL when CONFAB_PUBLIC_URL is not set.
  const origin = (req: FastifyRequest) => `${req.protocol}://${req.host}`;

  app.post(
    '/api/conversations/:id/branch',
    {
      schema: {
        tags,
        security,
        summary: 'Branch a conversation: a new assistant conversation with copies of its messages up to one of them',
        params: ConversationIdParams,
        body: BranchBody,
        response: { 201: Conversation },
      },
    },
    async (req, reply) => reply.status(201).send(await branchConversation(ctx, await requireUser(ctx, req), req.params.id, req.body.messageId)),
  );

  app.post(
    '/api/conversations/:id/shares',
    { schema: { tags, security, summary: 'Share a read-only snapshot of the conversation at an unguessable URL', params: ConversationIdParams, response: { 201: ConversationShare } } },
    async (req, reply) => reply.status(201).send(await shares.createShare(ctx, await requireUser(ctx, req), req.params.id, origin(req))),
  );
  app.get(
    '/api/conversations/:id/shares',
    { schema: { tags, security, summary: 'The conversation’s shared snapshots (owner or admins)', params: ConversationIdParams, response: { 200: ConversationShareList } } },
    async (req) => shares.listShares(ctx, await requireUser(ctx, req), req.params.id, origin(req)),
  );
  app.delete(
    '/api/conversations/:id/shares/:shareId',
    { schema: { tags, security, summary: 'Remove a shared snapshot: its URL answers 404 from now on', params: ShareParams } },
    async (req, reply) => {
      await shares.deleteShare(ctx, await requireUser(ctx, req), req.params.id, req.params.shareId);
      return reply.status(204).send();
    },
  );

  // No authentication: the id in the URL is the key (http/auth.ts, PUBLIC_ROUTES). Never cached, so
  // a removed share is gone at once; never sent on as a referrer by the page (web.ts).
  app.get(
    '/api/shared/:id',
    { schema: { tags, summary: 'A shared snapshot of a conversation (no sign-in)', params: SharedParams, response: { 200: SharedSnapshot } } },
    async (req, reply) => {
      const snapshot = await shares.getShared(ctx, req.params.id, req.ip);
      return reply.header('cache-control', 'no-store').header('x-robots-tag', 'noindex').send(snapshot);
    },
  );
}
