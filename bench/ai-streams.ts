/**
 * Concurrent AI answers: N answers streaming T tokens each from the local OpenAI-compatible test
 * provider, relayed by a Confab server process to the members' sockets.
 * Reports database writes of answer text per answer, token relay latency (provider wrote the chunk
 * → client received the ai:delta, one clock), and the server's CPU use.
 *   node --import tsx bench/ai-streams.ts [--answers 200] [--tokens 500] [--delay 10] [--users 50] [--postgres]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AuthResult, Conversation } from '@confab/protocol';
import { io, type Socket } from 'socket.io-client';
import { startFakeOpenAI } from '../packages/server/src/test/fakeOpenAI.ts';
import { freshPostgres, percentile, startNode, tempDataDir } from './nodes.ts';

const { values } = parseArgs({
  options: {
    answers: { type: 'string', default: '200' },
    tokens: { type: 'string', default: '500' },
    delay: { type: 'string', default: '10' },
    users: { type: 'string', default: '50' },
    postgres: { type: 'boolean', default: false },
  },
});
const answers = Number(values.answers);
const tokens = Number(values.tokens);
const delay = Number(values.delay);
const userCount = Math.min(Number(values.users), answers);

const now = () => performance.timeOrigin + performance.now();

async function post<T>(url: string, path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

/** utime + stime of a process, in seconds (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ = 100)
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

async function main() {
  const fake = await startFakeOpenAI();
  const db = values.postgres ? await freshPostgres() : undefined;
  const node = await startNode({
    DATA_DIR: tempDataDir(),
    OPENAI_BASE_URL: fake.url,
    CONFAB_MODELS: 'openai:bench-model',
    ...(db ? { DATABASE_URL: db.url } : {}),
  });
  const sockets: Socket[] = [];
  try {
    const run = Date.now().toString(36);
    const users: AuthResult[] = [];
    for (let i = 0; i < userCount; i++) {
      users.push(await post<AuthResult>(node.url, '/api/auth/register', { email: `ai${i}-${run}@bench.test`, password: 'benchmark password', handle: `ai${i}_${run}`, displayName: `AI ${i}` }));
    }
    const conversations: { id: string; user: AuthResult }[] = [];
    for (let i = 0; i < answers; i++) {
      const user = users[i % userCount]!;
      conversations.push({ id: (await post<Conversation>(node.url, '/api/conversations/assistant', { model: 'openai:bench-model' }, user.accessToken)).id, user });
    }
    const latencies: number[] = [];
    const pieces = new Map<string, number>();
    let finished = 0;
    for (const user of users) {
      const socket = io(node.url, { transports: ['websocket'], auth: { token: user.accessToken }, reconnection: false });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      socket.on('ai:delta', (e: { messageId: string; text: string }) => {
        const received = now();
        latencies.push(received - Number(e.text));
        pieces.set(e.messageId, (pieces.get(e.messageId) ?? 0) + 1);
      });
      socket.on('ai:done', () => finished++);
      sockets.push(socket);
    }
    const cpuBefore = cpuSeconds(node.process.pid!);
    const started = performance.now();
    await Promise.all(
      conversations.map((c, i) =>
        post(node.url, '/api/messages', { conversationId: c.id, content: `[tokens=${tokens}][delay=${delay}][stamp] go`, clientId: `q${i}` }, c.user.accessToken),
      ),
    );
    const deadline = performance.now() + 10 * 60_000;
    while (finished < answers && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuSeconds(node.process.pid!) - cpuBefore;
    const writes = await metric(node.url, 'confab_ai_text_writes_total');
    const done = await metric(node.url, 'confab_ai_answers_total');
    latencies.sort((a, b) => a - b);
    const complete = [...pieces.values()].filter((n) => n === tokens).length;
    console.log(
      JSON.stringify({
        scenario: 'ai-streams',
        database: db ? 'postgres' : 'embedded',
        answers,
        tokensPerAnswer: tokens,
        tokenDelayMs: delay,
        answersFinished: done,
        answersWithAllPieces: complete,
        seconds: +seconds.toFixed(2),
        dbTextWritesPerAnswer: +(writes / Math.max(done, 1)).toFixed(2),
        dbTextWritesPerAnswerPerSecondOfStreaming: +(writes / Math.max(done, 1) / (tokens * delay / 1000)).toFixed(2),
        relayLatencyMs: { p50: +percentile(latencies, 50).toFixed(2), p99: +percentile(latencies, 99).toFixed(2), max: +(latencies.at(-1) ?? NaN).toFixed(2), samples: latencies.length },
        serverCpu: { seconds: +cpu.toFixed(2), coresUsed: +(cpu / seconds).toFixed(2) },
      }),
    );
  } finally {
    for (const s of sockets) s.close();
    await node.stop();
    await fake.close();
    await db?.drop();
  }
}

await main();
