import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, registerUser, startTestNodes, type TestNodes, type TestServer } from '../test/harness.ts';
import { sleep } from './test/kit.ts';

// Two nodes share one PostgreSQL database and Redis: this runs in the PostgreSQL pass only.

describe('a block made on one node (two nodes)', () => {
  let cluster: TestNodes;
  let A: TestServer;
  let B: TestServer;

  beforeAll(async () => {
    cluster = await startTestNodes(2);
    [A, B] = cluster.nodes as [TestServer, TestServer];
  });
  afterAll(() => cluster?.close());

  it('holds on the other node within 2 s, though that node remembered the pair as not blocked', async () => {
    const [ana, ben] = [await registerUser(A, 'ana'), await registerUser(A, 'ben')];
    const direct = (await ana.api.post('/api/conversations/direct', { userId: ben.id })).body;
    const benOnB = new Api(B.url, ben.accessToken);
    let n = 0;
    const send = () => benOnB.post('/api/messages', { conversationId: direct.id, clientId: `c${++n}`, content: `hello ${n}` });
    // Node B reads the pair now (not blocked) and remembers it.
    expect((await send()).status).toBe(201);

    expect((await new Api(A.url, ana.accessToken).post(`/api/users/${ben.id}/block`)).status).toBe(204);
    const blockedAt = Date.now();
    let refusedAfterMs: number | undefined;
    while (Date.now() - blockedAt < 5000) {
      const res = await send();
      if (res.status === 403) {
        refusedAfterMs = Date.now() - blockedAt;
        expect(res.body.error.code).toBe('FORBIDDEN');
        break;
      }
      expect(res.status).toBe(201);
      await sleep(100);
    }
    expect(refusedAfterMs).toBeDefined();
    expect(refusedAfterMs!).toBeLessThan(2500);
    // And it stays refused on both nodes.
    expect((await send()).status).toBe(403);
    expect((await new Api(A.url, ben.accessToken).post('/api/messages', { conversationId: direct.id, clientId: 'on-a', content: 'x' })).status).toBe(403);
  });
});
