import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, registerUser, startTestNodes, type TestNodes, type TestServer } from '../test/harness.ts';
import { closedAfter, connectError, socketPool } from './test/kit.ts';

/**
 * Deactivating a user (PATCH /api/admin/users/:id) signs them out everywhere: every live socket of
 * theirs, on every node, is disconnected within 2 s (API.md), REST answers 401 and their refresh
 * token is dead. PostgreSQL pass only (vitest.config.ts): two nodes share one database.
 */
const BOUND_MS = 2000;
// Headroom over the bound for a loaded test machine.
const SLACK_MS = 1000;

describe('deactivating a user on two nodes (PostgreSQL + Redis)', () => {
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

  it('disconnects their sockets on both nodes within 2 s, and their tokens stop working', async () => {
    const owner = await registerUser(A, 'owner');
    expect(owner.user.role).toBe('owner');
    const user = await registerUser(B, 'user');
    const [onA, onB] = [await sockets.on(A, user.accessToken), await sockets.on(B, user.accessToken)];
    expect(onA.connected && onB.connected).toBe(true);
    const [ca, cb] = [closedAfter(onA), closedAfter(onB)];

    const res = await owner.api.patch(`/api/admin/users/${user.id}`, { status: 'deactivated' });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('deactivated');

    const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('a socket was still connected 10 s later')), 10_000).unref());
    const [ra, rb] = await Promise.race([Promise.all([ca.done, cb.done]), late]);
    expect({ a: ra.ms < BOUND_MS + SLACK_MS, b: rb.ms < BOUND_MS + SLACK_MS }).toEqual({ a: true, b: true });
    // The server closed them; the client did not leave.
    expect([ra.reason, rb.reason]).toEqual(['io server disconnect', 'io server disconnect']);

    for (const node of [A, B]) {
      expect((await new Api(node.url, user.accessToken).get('/api/auth/me')).status).toBe(401);
      await expect(connectError(node.url, { token: user.accessToken })).resolves.toBeInstanceOf(Error);
    }
    expect((await new Api(B.url).post('/api/auth/refresh', { refreshToken: user.refreshToken })).status).toBe(401);
    // (Refusing a deactivated account's sign-in is the login's rule, tested with it.)
  });
});
