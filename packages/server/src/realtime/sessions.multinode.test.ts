import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, registerUser, startTestNodes, type TestNodes, type TestServer } from '../test/harness.ts';
import { closedAfter, loginAgain, sleep, socketPool } from './test/kit.ts';

// Two nodes share one PostgreSQL database and Redis: this runs in the PostgreSQL pass only.

/** The contract's bound for a session's sockets to be disconnected everywhere. */
const BOUND_MS = 2000;

describe('ending one session from "signed-in devices" (two nodes)', () => {
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

  it("DELETE /api/auth/sessions/:id disconnects that session's sockets on both nodes within 2 s and leaves the other session's connected", async () => {
    const rio = await registerUser(A, 'rio');
    const laptop = await loginAgain(B, rio);
    const sessions = (await rio.api.get('/api/auth/sessions')).body.sessions as Array<{ id: string; current: boolean }>;
    const laptopSession = sessions.find((s) => !s.current)!;

    const [laptopOnA, laptopOnB] = [await sockets.on(A, laptop.accessToken), await sockets.on(B, laptop.accessToken)];
    const [phoneOnA, phoneOnB] = [await sockets.on(A, rio.accessToken), await sockets.on(B, rio.accessToken)];
    const [ca, cb] = [closedAfter(laptopOnA), closedAfter(laptopOnB)];

    // Asked on node B, from the other session.
    const res = await new Api(B.url, rio.accessToken).delete(`/api/auth/sessions/${laptopSession.id}`);
    expect(res.status).toBe(204);
    const [ra, rb] = await Promise.all([ca.done, cb.done]);
    expect(ra.ms).toBeLessThan(BOUND_MS);
    expect(rb.ms).toBeLessThan(BOUND_MS);

    // The other session's sockets stay, on both nodes, past the bound.
    await sleep(BOUND_MS + 500);
    expect([phoneOnA.connected, phoneOnB.connected]).toEqual([true, true]);
    expect([laptopOnA.connected, laptopOnB.connected]).toEqual([false, false]);
    // And the ended session's refresh token is dead on either node.
    const dead = await fetch(`${B.url}/api/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: laptop.refreshToken }) });
    expect(dead.status).toBe(401);
  });
});
