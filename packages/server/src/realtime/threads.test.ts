import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batcherFor } from '../operations/messages.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';
import { connect, createGroup, Mirror, ok, record, until, type Client } from './test/kit.ts';

// The delivery guarantee holds for thread replies and the root changes they cause: every member's
// client ends up with every change exactly once, in seq order, live or through sync after a
// reconnect, also when the replies are stored by the send batch.

let server: TestServer;
let alice: TestUser, bob: TestUser, carol: TestUser;
const open: Client[] = [];
const on = async (user: TestUser) => {
  const s = await connect(server.url, user.accessToken);
  open.push(s);
  return s;
};

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, carol] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob'), registerUser(server, 'carol')]);
});
afterAll(async () => {
  for (const s of open) s.close();
  await server?.close();
});

/** Every message of the conversation in its latest state, as the database holds it. */
async function stored(conversationId: string) {
  return server.ctx.db.query<{ id: string; seq: number; updated_seq: number }>('SELECT id, seq, updated_seq FROM messages WHERE conversation_id = $1 ORDER BY seq', [
    conversationId,
  ]);
}

async function converged(mirror: Mirror, conversationId: string) {
  const want = (await stored(conversationId)).map((r) => `${r.id}@${r.updated_seq}`);
  await until(() => mirror.list(conversationId).map((m) => `${m.id}@${m.updatedSeq}`).join() === want.join(), 10_000, 'the mirror to converge');
}

let n = 0;
const reply = (s: Client, conversationId: string, rootId: string, content: string, alsoToChannel = false) =>
  ok<Message>(s, 'chat:message_send', { conversationId, content, clientId: `r-${++n}`, threadRootId: rootId, ...(alsoToChannel ? { alsoToChannel } : {}) });

describe('thread replies and the delivery guarantee', () => {
  it('reach every member once, in seq order, with the root’s count, also when stored in batches', async () => {
    const conversationId = await createGroup(server, server.ctx.db, alice, [bob, carol], 'threads');
    const [a, b, c] = [await on(alice), await on(bob), await on(carol)];
    const mirror = new Mirror();
    mirror.attach(c);
    await mirror.sync();
    const received = record(c);
    const root = await ok<Message>(a, 'chat:message_send', { conversationId, content: 'root', clientId: `root-${++n}` });
    const batchesBefore = batcherFor(server.ctx).stats.batches;

    const sends: Promise<Message>[] = [];
    for (let i = 0; i < 15; i++) {
      sends.push(reply(a, conversationId, root.id, `a${i}`, i % 5 === 0));
      sends.push(reply(b, conversationId, root.id, `b${i}`));
      if (i % 4 === 0) sends.push(ok<Message>(b, 'chat:message_send', { conversationId, content: `main ${i}`, clientId: `m-${++n}` }));
    }
    const replies = (await Promise.all(sends)).filter((m) => m.threadRootId);
    expect(replies).toHaveLength(30);
    // The sends went (at least partly) through the batch function, which carries the thread root.
    expect(batcherFor(server.ctx).stats.batches).toBeGreaterThan(batchesBefore);

    await converged(mirror, conversationId);
    const finalRoot = mirror.messages.get(root.id)!;
    expect(finalRoot.thread).toMatchObject({ replyCount: 30 });
    expect(new Set(finalRoot.thread!.participantIds)).toEqual(new Set([alice.id, bob.id]));
    // Each new message arrived live exactly once, in seq order.
    const live = received.filter((e) => e.event === 'chat:message_received').map((e) => e.payload as Message);
    expect(live.map((m) => m.id).sort()).toEqual([...new Set(live.map((m) => m.id))].sort());
    expect(live.map((m) => m.seq)).toEqual([...live.map((m) => m.seq)].sort((x, y) => x - y));
    for (const r of replies) expect(mirror.receivedCount.get(r.id)).toBe(1);
    mirror.close();
  });

  it('a client away while replies came catches up through sync from its cursor', async () => {
    const conversationId = await createGroup(server, server.ctx.db, alice, [bob, carol], 'away');
    const [a, b] = [await on(alice), await on(bob)];
    let c = await on(carol);
    const mirror = new Mirror();
    mirror.attach(c);
    await mirror.sync();
    const root = await ok<Message>(a, 'chat:message_send', { conversationId, content: 'root', clientId: `root-${++n}` });
    await reply(b, conversationId, root.id, 'before');
    await converged(mirror, conversationId);
    const cursor = mirror.cursors[conversationId]!;

    c.close();
    const away: Message[] = [];
    for (let i = 0; i < 6; i++) away.push(await reply(i % 2 ? a : b, conversationId, root.id, `while away ${i}`, i === 3));
    await ok(b, 'chat:message_edit', { messageId: away[0]!.id, content: 'edited while away' });
    await ok(a, 'chat:message_delete', { messageId: away[1]!.id });

    c = await on(carol);
    mirror.attach(c);
    await mirror.sync();
    await converged(mirror, conversationId);
    expect(mirror.cursors[conversationId]).toBeGreaterThan(cursor);
    expect(mirror.messages.get(away[0]!.id)?.content).toBe('edited while away');
    expect(mirror.messages.get(away[1]!.id)?.deletedAt).not.toBeNull();
    expect(mirror.messages.get(away[3]!.id)).toMatchObject({ alsoToChannel: true, threadRootId: root.id });
    // 7 replies, one deleted.
    expect(mirror.messages.get(root.id)?.thread).toMatchObject({ replyCount: 6, participantIds: [bob.id, alice.id] });
    mirror.close();
  });
});
