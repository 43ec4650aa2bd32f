import type { Ack } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, connect, type Client } from '../realtime/test/kit.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';

/**
 * A send's `replyToId` must not tell the sender anything about messages they cannot see: whether
 * an id exists, and in which conversation, is answered the same way as for an id that never existed.
 */
let server: TestServer;
let alice: TestUser, bob: TestUser, mallory: TestUser;
let group: string, secret: string, malloryOwn: string;
let sockets: Client[] = [];

let n = 0;
const body = (conversationId: string, replyToId: string) => ({ conversationId, content: 'hi', clientId: `r-${++n}`, replyToId });

/** One answer, REST and socket alike, reduced to what a caller sees. */
async function restSend(user: TestUser, conversationId: string, replyToId: string) {
  const res = await user.api.post('/api/messages', body(conversationId, replyToId));
  return { status: res.status, error: res.body.error };
}
async function socketSend(user: TestUser, conversationId: string, replyToId: string) {
  const socket = await connect(server.url, user.accessToken);
  sockets.push(socket);
  const ack: Ack<unknown> = await call(socket, 'chat:message_send', body(conversationId, replyToId));
  return { ok: ack.ok, error: ack.ok ? undefined : ack.error };
}

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, mallory] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob'), registerUser(server, 'mallory')]);
  group = (await alice.api.post('/api/conversations/group', { title: 'Private', participantIds: [bob.id] })).body.id;
  secret = (await alice.api.post('/api/messages', { conversationId: group, content: 'secret', clientId: 'secret' })).body.id;
  malloryOwn = (await mallory.api.post('/api/conversations/group', { title: 'Own', participantIds: [] })).body.id;
});
afterAll(async () => {
  for (const s of sockets) s.close();
  sockets = [];
  await server?.close();
});

describe.each([
  ['REST', restSend],
  ['socket', socketSend],
] as const)('replyToId over %s', (_transport, send) => {
  it('tells a non-member nothing about whether a message is in a conversation', async () => {
    const existing = await send(mallory, group, secret);
    const missing = await send(mallory, group, 'no-such-message');
    expect(existing).toEqual(missing);
    expect(existing.error).toMatchObject({ code: 'NOT_FOUND', message: 'no such conversation' });
    // ...and the same as a conversation that does not exist at all.
    expect(await send(mallory, 'no-such-conversation', secret)).toEqual(existing);
  });

  it('answers a member the same for a message elsewhere as for no message', async () => {
    // The secret message exists, in a conversation mallory is not in.
    const elsewhere = await send(mallory, malloryOwn, secret);
    const missing = await send(mallory, malloryOwn, 'no-such-message');
    expect(elsewhere).toEqual(missing);
    expect(elsewhere.error).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('still lets members reply inside their conversation', async () => {
    const reply = await send(bob, group, secret);
    expect(reply.error).toBeUndefined();
  });
});
