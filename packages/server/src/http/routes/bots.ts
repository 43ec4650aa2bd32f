import { BotList, BotWithToken, CreateBotBody, Id } from '@confab/protocol';
import { z } from 'zod';
import type { Context } from '../../context.ts';
import * as bots from '../../operations/bots.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';
import { clientInfo } from './auth.ts';

/** Bots and their tokens (operations/bots.ts). */
export function botRoutes(app: App, ctx: Context) {
  const tags = ['bots'];
  const security = [{ bearer: [] }];
  const params = z.strictObject({ id: Id });
  app.post('/api/bots', { schema: { tags, security, body: CreateBotBody, response: { 201: BotWithToken } } }, async (req, reply) =>
    reply.status(201).send(await bots.createBot(ctx, await requireUser(ctx, req), req.body, clientInfo(req))),
  );
  app.get('/api/bots', { schema: { tags, security, response: { 200: BotList } } }, async (req) => bots.listBots(ctx, await requireUser(ctx, req)));
  app.post('/api/bots/:id/token', { schema: { tags, security, params, response: { 200: BotWithToken } } }, async (req) =>
    bots.rotateBotToken(ctx, await requireUser(ctx, req), req.params.id, clientInfo(req)),
  );
  app.delete('/api/bots/:id', { schema: { tags, security, params } }, async (req, reply) => {
    await bots.deleteBot(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });
}
