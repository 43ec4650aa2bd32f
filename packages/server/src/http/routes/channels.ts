import { Channel, ChannelList, ChannelListQuery, Conversation, ConversationIdParams, Message, MessageIdParams, PinList } from '@confab/protocol';
import type { Context } from '../../context.ts';
import * as channels from '../../operations/channels.ts';
import * as pins from '../../operations/pins.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** Channels (public groups: the directory, joining) and pinned messages. */
export function channelRoutes(app: App, ctx: Context) {
  const security = [{ bearer: [] }];
  const params = ConversationIdParams;
  app.get('/api/channels', { schema: { tags: ['channels'], security, querystring: ChannelListQuery, response: { 200: ChannelList } } }, async (req) =>
    channels.listChannels(ctx, await requireUser(ctx, req), req.query),
  );
  app.get('/api/channels/:id', { schema: { tags: ['channels'], security, params, response: { 200: Channel } } }, async (req) =>
    channels.getChannel(ctx, await requireUser(ctx, req), req.params.id),
  );
  app.post('/api/channels/:id/join', { schema: { tags: ['channels'], security, params, response: { 200: Conversation } } }, async (req) =>
    channels.joinChannel(ctx, await requireUser(ctx, req), req.params.id),
  );

  app.get('/api/conversations/:id/pins', { schema: { tags: ['messages'], security, params, response: { 200: PinList } } }, async (req) =>
    pins.listPins(ctx, await requireUser(ctx, req), req.params.id),
  );
  app.post('/api/messages/:id/pin', { schema: { tags: ['messages'], security, params: MessageIdParams, response: { 200: Message } } }, async (req) =>
    pins.setPinned(ctx, await requireUser(ctx, req), req.params.id, true),
  );
  app.delete('/api/messages/:id/pin', { schema: { tags: ['messages'], security, params: MessageIdParams, response: { 200: Message } } }, async (req) =>
    pins.setPinned(ctx, await requireUser(ctx, req), req.params.id, false),
  );
}
