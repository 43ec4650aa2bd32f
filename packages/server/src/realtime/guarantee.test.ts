import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, testDatabase, type TestServer } from '../test/harness.ts';
import { connect, createGroup, ok, socketPool, until, type Client, Mirror } from './test/kit.ts';

let server: TestServer;
const pool = socketPool();
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  pool.closeAll();
  await server?.close();
});

const PER_SENDER = 1000;
/** Sends in flight per sender: parallel, but not 1,000 transactions queued at once. */
const WINDOW = 32;

/** Sends `count` messages keeping `WINDOW` in flight; resolves with every ack'ed message. */
async function burst(socket: Client, conversationId: string, tag: string, count: number, onAck: () => void): Promise<Message[]> {
  const acked: Message[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      acked.push(await ok<Message>(socket, 'chat:message_send', { conversationId, content: `${tag} ${i}`, clientId: `${tag}-${i}` }, 30_000));
      onAck();
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  return acked;
}

const isIncreasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

describe(`the delivery guarantee (${testDatabase})`, () => {
  it('2 senders x 1,000 messages in parallel; a receiver drops in the middle and syncs; every client ends with exactly the stored messages in seq order', async () => {
    const [s1, s2, r] = await Promise.all([registerUser(server, 'sender1'), registerUser(server, 'sender2'), registerUser(server, 'receiver')]);
    const conversationId = await createGroup(server, server.ctx.db, s1!, [s2!, r!]);
    const mirrors = { s1: new Mirror(), s2: new Mirror(), r: new Mirror() };
    const sockets = {
      s1: await connect(server.url, s1!.accessToken),
      s2: await connect(server.url, s2!.accessToken),
      r: await connect(server.url, r!.accessToken),
    };
    pool.track(...Object.values(sockets));
    for (const k of ['s1', 's2', 'r'] as const) {
      mirrors[k].attach(sockets[k]);
      await mirrors[k].sync();
      expect(mirrors[k].cursors[conversationId]).toBe(0);
    }

    let acks = 0;
    // The receiver drops after 500 live messages and comes back once 1,500 are acknowledged.
    const receiverLifecycle = (async () => {
      await until(() => mirrors.r.list(conversationId).length >= 500, 30_000, 'receiver to get 500 messages');
      sockets.r.close();
      const seenBeforeDrop = mirrors.r.list(conversationId).length;
      await until(() => acks >= 1500, 30_000, '1,500 acks');
      const again = await connect(server.url, r!.accessToken);
      pool.track(again);
      mirrors.r.attach(again);
      await mirrors.r.sync();
      return seenBeforeDrop;
    })();
    const [sent1, sent2] = await Promise.all([
      burst(sockets.s1, conversationId, 'one', PER_SENDER, () => acks++),
      burst(sockets.s2, conversationId, 'two', PER_SENDER, () => acks++),
    ]);
    const seenBeforeDrop = await receiverLifecycle;
    expect(seenBeforeDrop).toBeGreaterThanOrEqual(500);
    expect(seenBeforeDrop).toBeLessThan(2 * PER_SENDER);

    const stored = await server.ctx.db.query<{ id: string; seq: number; content_enc: string }>(
      'SELECT id, seq FROM messages WHERE conversation_id = $1 ORDER BY seq',
      [conversationId],
    );
    expect(stored).toHaveLength(2 * PER_SENDER);
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 2 * PER_SENDER }, (_, i) => i + 1));
    const acked = new Map([...sent1, ...sent2].map((m) => [m.id, m]));
    expect(acked.size).toBe(2 * PER_SENDER);

    for (const [name, mirror] of Object.entries(mirrors)) {
      await until(() => mirror.list(conversationId).length === 2 * PER_SENDER, 20_000, `${name} to hold every message`);
      const list = mirror.list(conversationId);
      // Exactly the stored messages, in seq order, none twice.
      expect(list.map((m) => m.id), name).toEqual(stored.map((m) => m.id));
      expect(new Set(list.map((m) => m.id)).size).toBe(2 * PER_SENDER);
      for (const m of list) expect(m, name).toEqual(acked.get(m.id));
      expect(mirror.cursors[conversationId]).toBe(2 * PER_SENDER);
    }
    // The senders never disconnected: each message reached them live exactly once, in seq order,
    // with no gap to repair (one node orders its own emits; see ordering.ts).
    for (const name of ['s1', 's2'] as const) {
      const m = mirrors[name];
      expect([...m.receivedCount.values()].every((n) => n === 1)).toBe(true);
      expect(m.receivedCount.size).toBe(2 * PER_SENDER);
      expect(isIncreasing(m.arrivals.get(conversationId)!)).toBe(true);
      expect(m.gaps).toBe(0);
    }
    // The receiver got each message live at most once.
    expect([...mirrors.r.receivedCount.values()].every((n) => n === 1)).toBe(true);
    for (const m of Object.values(mirrors)) m.close();
  });
});
