import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, registerUser, startTestNodes, type TestNodes, type TestServer } from '../test/harness.ts';
import { closedAfter, connectError, ok, sleep, socketPool, waitFor } from './test/kit.ts';

// Two nodes share one PostgreSQL database and Redis: this runs in the PostgreSQL pass only.

/** The contract's bound for a session's sockets to be disconnected everywhere. */
const BOUND_MS = 2000;

describe('bot tokens on Socket.IO (two nodes)', () => {
  let cluster: TestNodes;
  let A: TestServer;
  let B: TestServer;
  const sockets = socketPool();

  beforeAll(async () => {
    cluster = await startTestNodes(2);
    [A, B] = cluster.nodes as [TestServer, TestServer];
  });
  afterAll(async () => {
    sockets.closeAll();
    await cluster?.close();
  });

  it("rotating a bot's token disconnects its old-token sockets on both nodes within 2 s; the new token connects and hears its conversation", async () => {
    const ana = await registerUser(A, 'ana');
    const created = await ana.api.post('/api/bots', { handle: `relay_${Date.now()}`, displayName: 'Relay' });
    expect(created.status).toBe(201);
    const { bot, token: oldToken } = created.body as { bot: { id: string }; token: string };
    const group = await ana.api.post('/api/conversations/group', { title: 'bots', participantIds: [bot.id] });
    expect(group.status).toBe(201);

    const [oldOnA, oldOnB] = [await sockets.on(A, oldToken), await sockets.on(B, oldToken)];
    // A bot's socket may present its token again (auth:refresh): it never expires.
    const refreshed = await ok<{ expiresAt: string }>(oldOnA, 'auth:refresh', { token: oldToken });
    expect(refreshed.expiresAt.startsWith('9999-')).toBe(true);
    // The old-token socket hears its conversation before the rotation.
    const heard = waitFor(oldOnB, 'chat:message_received', (m: { content: string }) => m.content === 'before');
    expect((await ana.api.post('/api/messages', { conversationId: group.body.id, content: 'before', clientId: 'c-before' })).status).toBe(201);
    await heard;

    const [ca, cb] = [closedAfter(oldOnA), closedAfter(oldOnB)];
    // Rotated on node B.
    const rotated = await new Api(B.url, ana.accessToken).post(`/api/bots/${bot.id}/token`);
    expect(rotated.status).toBe(200);
    const [ra, rb] = await Promise.all([ca.done, cb.done]);
    expect(ra.ms).toBeLessThan(BOUND_MS);
    expect(rb.ms).toBeLessThan(BOUND_MS);
    expect([ra.reason, rb.reason]).toEqual(['io server disconnect', 'io server disconnect']);

    // The old token is refused by either node, on sockets and REST alike.
    expect((await connectError(A.url, { token: oldToken })).message).toBe('UNAUTHENTICATED');
    expect((await new Api(B.url, oldToken).get('/api/auth/me')).status).toBe(401);

    // The new one connects (on A) and receives what is sent in its conversation (on B).
    const fresh = await sockets.on(A, rotated.body.token as string);
    const received = waitFor(fresh, 'chat:message_received', (m: { content: string }) => m.content === 'after');
    expect((await new Api(B.url, ana.accessToken).post('/api/messages', { conversationId: group.body.id, content: 'after', clientId: 'c-after' })).status).toBe(201);
    expect((await received).content).toBe('after');
    await sleep(200);
    expect(fresh.connected).toBe(true);

    // Deleting the bot (on B) disconnects its socket on A just as fast.
    const gone = closedAfter(fresh);
    expect((await new Api(B.url, ana.accessToken).delete(`/api/bots/${bot.id}`)).status).toBe(204);
    expect((await gone.done).ms).toBeLessThan(BOUND_MS);
    expect((await connectError(B.url, { token: rotated.body.token as string })).message).toBe('UNAUTHENTICATED');
  });
});
