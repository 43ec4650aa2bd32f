/**
 * Realtime fan-out in one group: 20 members connected over Socket.IO (websocket), spread over the
 * nodes. Phase 1 (throughput): every member sends as fast as acks allow (8 in flight each) and we
 * count committed messages/s and deliveries/s. Phase 2 (latency): a fixed total rate, and the
 * send→receive latency at every other member, measured with one clock (same process).
 *   node --import tsx bench/fanout.ts [--nodes 1|2] [--members 20] [--messages 4000] [--rate 500]
 * One node uses the embedded database unless --postgres; two nodes use PostgreSQL and Redis.
 */
import { parseArgs } from 'node:util';
import type { Ack, AuthResult, Conversation, Message } from '@confab/protocol';
import { io, type Socket } from 'socket.io-client';
import { freshPostgres, percentile, sharedSecret, startNode, tempDataDir, type Node } from './nodes.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1' },
    members: { type: 'string', default: '20' },
    messages: { type: 'string', default: '4000' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '8' },
    postgres: { type: 'boolean', default: false },
  },
});
const nodeCount = Number(values.nodes);
const members = Number(values.members);
const total = Number(values.messages);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const usePostgres = values.postgres || nodeCount > 1;

async function post<T>(url: string, path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

function connect(url: string, token: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], auth: { token }, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

const sendAck = (socket: Socket, payload: unknown) =>
  new Promise<Message>((resolve, reject) =>
    socket.emit('chat:message_send', payload, (ack: Ack<Message>) => (ack.ok ? resolve(ack.data) : reject(new Error(JSON.stringify(ack.error))))),
  );

async function main() {
  const db = usePostgres ? await freshPostgres() : undefined;
  const secret = sharedSecret();
  const env: Record<string, string> = { CONFAB_SECRET: secret, DATA_DIR: tempDataDir() };
  if (db) env.DATABASE_URL = db.url;
  if (nodeCount > 1) env.REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const nodes: Node[] = [];
  // Start one node first so it runs the migrations alone.
  nodes.push(await startNode(env));
  for (let i = 1; i < nodeCount; i++) nodes.push(await startNode({ ...env, DATA_DIR: tempDataDir() }));
  const sockets: Socket[] = [];
  try {
    const run = Date.now().toString(36);
    const users: AuthResult[] = [];
    for (let i = 0; i < members; i++) {
      users.push(await post<AuthResult>(nodes[0]!.url, '/api/auth/register', { email: `m${i}-${run}@bench.test`, password: 'benchmark password', handle: `m${i}_${run}`, displayName: `Member ${i}` }));
    }
    const group = await post<Conversation>(nodes[0]!.url, '/api/conversations/group', { title: 'Bench', participantIds: users.slice(1).map((u) => u.user.id) }, users[0]!.accessToken);
    for (let i = 0; i < members; i++) sockets.push(await connect(nodes[i % nodeCount]!.url, users[i]!.accessToken));

    // Phase 1: throughput.
    let received = 0;
    for (const s of sockets) s.on('chat:message_received', () => received++);
    let next = 0;
    const started = performance.now();
    await Promise.all(
      sockets.flatMap((socket, i) =>
        Array.from({ length: 8 }, async () => {
          while (next < total) {
            const n = next++;
            await sendAck(socket, { conversationId: group.id, content: `t${n}`, clientId: `t-${i}-${n}` });
          }
        }),
      ),
    );
    const sendSeconds = (performance.now() - started) / 1000;
    const expected = total * members; // every member's sockets, the sender's included
    while (received < expected && performance.now() - started < 60_000) await new Promise((r) => setTimeout(r, 20));
    const allSeconds = (performance.now() - started) / 1000;
    for (const s of sockets) s.off('chat:message_received');

    // Phase 2: latency at a fixed rate.
    const latencies: number[] = [];
    for (const [i, s] of sockets.entries()) {
      s.on('chat:message_received', (m: { content: string; authorId: string }) => {
        if (m.authorId === users[i]!.user.id) return;
        const sentAt = Number(m.content.split(':')[1]);
        if (sentAt) latencies.push(performance.now() - sentAt);
      });
    }
    const interval = 1000 / rate;
    const latencyStart = performance.now();
    let sent = 0;
    const pending: Promise<unknown>[] = [];
    while (performance.now() - latencyStart < seconds * 1000) {
      const due = Math.floor((performance.now() - latencyStart) / interval);
      while (sent < due) {
        const i = sent % members;
        pending.push(sendAck(sockets[i]!, { conversationId: group.id, content: `l:${performance.now()}`, clientId: `l-${sent}` }));
        sent++;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(pending);
    await new Promise((r) => setTimeout(r, 500));
    latencies.sort((a, b) => a - b);

    const label = `${nodeCount} node${nodeCount > 1 ? 's' : ''} (${usePostgres ? 'PostgreSQL' : 'embedded'}${nodeCount > 1 ? ' + Redis' : ''})`;
    console.log(
      JSON.stringify({
        scenario: 'fanout',
        setup: label,
        members,
        throughput: {
          messages: total,
          messagesPerSecond: Math.round(total / sendSeconds),
          deliveriesPerSecond: Math.round(received / allSeconds),
          delivered: received,
          expected,
        },
        latency: {
          rate,
          sent,
          samples: latencies.length,
          expectedSamples: sent * (members - 1),
          p50ms: +percentile(latencies, 50).toFixed(2),
          p99ms: +percentile(latencies, 99).toFixed(2),
          maxms: +(latencies.at(-1) ?? NaN).toFixed(2),
        },
      }),
    );
  } finally {
    for (const s of sockets) s.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await db?.drop();
  }
}

await main();
