import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestNodes, type TestNodes, type TestServer } from '../test/harness.ts';
import { connect, createGroup, Mirror, ok, record, until, type Client } from './test/kit.ts';

// Thread replies written through two nodes at once reach a client on either node exactly once,
// and the roots' summaries converge. Needs PostgreSQL and Redis: the PostgreSQL pass only.

describe('threads across two nodes (PostgreSQL + Redis)', () => {
  let cluster: TestNodes;
  let A: TestServer;
  let B: TestServer;
  const open: Client[] = [];
  const on = async (node: TestServer, token: string) => {
    const s = await connect(node.url, token);
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    cluster = await startTestNodes(2);
    [A, B] = cluster.nodes as [TestServer, TestServer];
  });
  afterAll(async () => {
    for (const s of open) s.close();
    await cluster?.close();
  });

  it('replies sent through A and B reach clients on both nodes once; a client moving nodes catches up', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(A, 'alice'), registerUser(B, 'bob'), registerUser(A, 'carol')]);
    const conversationId = await createGroup(A, A.ctx.db, alice!, [bob!, carol!], 'two nodes');
    const a = await on(A, alice!.accessToken);
    const b = await on(B, bob!.accessToken);
    const onA = new Mirror();
    const onB = new Mirror();
    const cA = await on(A, carol!.accessToken);
    const cB = await on(B, carol!.accessToken);
    onA.attach(cA);
    onB.attach(cB);
    await Promise.all([onA.sync(), onB.sync()]);
    const receivedOnB = record(cB);

    const root = await ok<Message>(a, 'chat:message_send', { conversationId, content: 'root', clientId: 'root' });
    const sends: Promise<Message>[] = [];
    for (let i = 0; i < 20; i++) {
      sends.push(ok<Message>(a, 'chat:message_send', { conversationId, content: `A${i}`, clientId: `a${i}`, threadRootId: root.id }));
      sends.push(ok<Message>(b, 'chat:message_send', { conversationId, content: `B${i}`, clientId: `b${i}`, threadRootId: root.id, alsoToChannel: i % 7 === 0 }));
    }
    const replies = await Promise.all(sends);

    const stored = async () =>
      (await A.ctx.db.query<{ id: string; updated_seq: number }>('SELECT id, updated_seq FROM messages WHERE conversation_id = $1 ORDER BY seq', [conversationId])).map(
        (r) => `${r.id}@${r.updated_seq}`,
      );
    const want = (await stored()).join();
    for (const mirror of [onA, onB]) {
      await until(() => mirror.list(conversationId).map((m) => `${m.id}@${m.updatedSeq}`).join() === want, 15_000, 'a mirror to converge');
      expect(mirror.messages.get(root.id)?.thread).toMatchObject({ replyCount: 40 });
      for (const r of replies) expect(mirror.receivedCount.get(r.id) ?? 0).toBeLessThanOrEqual(1);
    }
    // Every reply arrived live on B once (a node's emits reach the other through Redis).
    const live = receivedOnB.filter((e) => e.event === 'chat:message_received' && e.payload.threadRootId === root.id).map((e) => e.payload.id);
    expect(new Set(live).size).toBe(live.length);

    // Carol moves from A to B while replies keep coming; B's sync from her cursor fills the rest.
    cA.close();
    for (let i = 0; i < 5; i++) await ok(b, 'chat:message_send', { conversationId, content: `late ${i}`, clientId: `late${i}`, threadRootId: root.id });
    const moved = await on(B, carol!.accessToken);
    onA.attach(moved);
    await onA.sync();
    const after = (await stored()).join();
    await until(() => onA.list(conversationId).map((m) => `${m.id}@${m.updatedSeq}`).join() === after, 15_000, 'the moved client to converge');
    const thread = onA.messages.get(root.id)!.thread!;
    expect(thread.replyCount).toBe(45);
    expect(new Set(thread.participantIds)).toEqual(new Set([alice!.id, bob!.id]));
    onA.close();
    onB.close();
  });
});
