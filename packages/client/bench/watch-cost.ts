/**
 * What a watchMessages subscription costs on 10,000 messages: heap retained, callbacks fired, time.
 *
 *   node --expose-gc --import tsx packages/client/bench/watch-cost.ts [messages] [burst]
 *
 * Messages arrive as live `chat:message_received` events on an in-memory socket (no server, no
 * network: this measures the SDK), in bursts delivered within one task each, as a busy socket
 * delivers them. Prints figures; asserts nothing.
 */
import type { Message } from '@confab/protocol';
import { createClient } from '../src/client.ts';
import { memoryStorage } from '../src/storage/memory.ts';
import { FakeServer, conversation, fakeJwt } from '../src/test/fakes.ts';
import type { ChatMessage } from '../src/types.ts';

const TOTAL = Number(process.argv[2] ?? 10_000);
const BURST = Number(process.argv[3] ?? 100);
const gc = (globalThis as { gc?: () => void }).gc;

async function heap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

const pad = (n: number) => String(n).padStart(6, '0');
/** A message as it would come off the wire: a fresh object with realistic field sizes. */
function wireMessage(seq: number): Message {
  return JSON.parse(
    JSON.stringify({
      id: `01J${pad(seq)}ABCDEFGHJKMNPQR`,
      conversationId: 'conv-bench',
      seq,
      authorId: seq % 3 ? 'user-alice-0001' : 'user-bob-00002',
      clientId: `c0a8012e-7f3b-4c1d-9e2a-${pad(seq)}abcdef`,
      kind: 'text',
      content: `Message number ${seq}: the quick brown fox jumps over the lazy dog, twice over.`,
      replyToId: null,
      attachments: [],
      reactions: [],
      createdAt: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
      editedAt: null,
      deletedAt: null,
      status: 'complete',
      model: null,
      updatedSeq: seq,
    }),
  ) as Message;
}

const fmt = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

async function main() {
  if (!gc) console.warn('(run with node --expose-gc for stable heap figures)');

  // Reference: the same messages held in a plain array, nothing else.
  const h0 = await heap();
  let plain: Message[] | null = Array.from({ length: TOTAL }, (_, i) => wireMessage(i + 1));
  const h1 = await heap();
  const rawBytes = h1 - h0;
  plain.length = 0;
  plain = null;

  const server = new FakeServer();
  server.addConversation(conversation({ id: 'conv-bench' }));
  const client = createClient({ url: 'http://bench', fetch: server.fetch, socketFactory: server.socketFactory, storage: memoryStorage(), crossTab: false });
  client.setSession({ accessToken: fakeJwt('user-alice-0001', Math.floor(Date.now() / 1000) + 3600), refreshToken: 'user-alice-0001:r0' });
  await client.idle();
  const socket = [...server.sockets][0]!;

  const base = await heap();
  let callbacks = 0;
  let last: ChatMessage[] = [];
  const watch = client.watchMessages('conv-bench', (list) => {
    callbacks++;
    last = list;
  });
  callbacks = 0; // the immediate snapshot does not count

  const start = performance.now();
  let slowest = 0;
  for (let sent = 0; sent < TOTAL; sent += BURST) {
    const t = performance.now();
    for (let i = sent; i < Math.min(TOTAL, sent + BURST); i++) socket.fire('chat:message_received', wireMessage(i + 1));
    await new Promise((r) => setImmediate(r)); // the burst's notification flushes here
    slowest = Math.max(slowest, performance.now() - t);
  }
  const elapsed = performance.now() - start;
  const withWatch = await heap();

  // Identity check: the last callback's objects are the stored ones (no copies per notification).
  const shared = last.length === TOTAL;
  watch.unsubscribe();
  last = [];
  const afterUnsub = await heap();

  const retained = withWatch - base;
  console.log(`watchMessages on ${TOTAL} messages, delivered in bursts of ${BURST}`);
  console.log(`  callbacks fired:            ${callbacks} (bursts: ${Math.ceil(TOTAL / BURST)})`);
  console.log(`  messages in last snapshot:  ${shared ? TOTAL : last.length}`);
  console.log(`  heap retained (store+watch): ${fmt(retained)} = ${Math.round(retained / TOTAL)} B/message`);
  console.log(`  the same messages as a plain array: ${fmt(rawBytes)} = ${Math.round(rawBytes / TOTAL)} B/message`);
  console.log(`  SDK overhead over the raw objects: ${fmt(retained - rawBytes)} = ${Math.round((retained - rawBytes) / TOTAL)} B/message`);
  console.log(`  of which the subscription (released on unsubscribe): ${fmt(withWatch - afterUnsub)}`);
  console.log(`  time: ${elapsed.toFixed(0)} ms total, ${(elapsed / TOTAL).toFixed(3)} ms/message, slowest burst ${slowest.toFixed(1)} ms`);
  await client.close();
}

await main();
