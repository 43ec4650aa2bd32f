/**
 * CPU per message at a fixed rate: S2's load (64 direct conversations, one sender each, 32 sends in
 * flight per sender) held at one rate, with the CPU each process used read from /proc: the server,
 * every PostgreSQL process and the generator (this process). On these shared VMs the highest passing
 * rate of S2 swings by tens of percent between runs; the cost per message repeats to a few µs, so
 * this is what to compare before and after a change. PostgreSQL's figure counts every postgres
 * process on the machine; "its database's backends" counts only the target's (steadier when other
 * work uses PostgreSQL too).
 *   node --import tsx bench/cost.ts [--target confab-postgres] [--rate 4000] [--seconds 8] [--repeats 2] [--profile DIR]
 * `--profile DIR`: the server runs under V8's sampling profiler (bench/lib/cpu-prof.mjs) and its
 * .cpuprofile lands in DIR, summarized at the end (bench/lib/profile.ts).
 * Targets are those of `npm run bench` (bench/lib/targets.ts), e.g. baseline-insert-postgres,
 * confab-embedded or ejabberd-postgres. Runs the built server: build it first
 * (`node packages/server/build.mjs`).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runStep, type Sender } from './lib/load.ts';
import { AddressPool, connectMany } from './lib/lean.ts';
import { cpuMeter, databaseCpuMeter, machineCpuMeter, sleep } from './lib/proc.ts';
import { newestProfile, summarizeProfile } from './lib/profile.ts';
import { startTarget } from './lib/targets.ts';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'confab-postgres' },
    rate: { type: 'string', default: '4000' },
    seconds: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '2' },
    profile: { type: 'string' },
  },
});
const key = values.target;
const rate = Number(values.rate);
const CONVERSATIONS = 64;
const FILLER = ' — the quick brown fox jumps over the lazy dog, and a chat message is about this long.';

const profileDir = values.profile ? path.resolve(values.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });
const cpuProfPreload = fileURLToPath(new URL('./lib/cpu-prof.mjs', import.meta.url));
const target = await startTarget(key, profileDir ? { env: { NODE_OPTIONS: `--import ${cpuProfPreload}`, BENCH_CPU_PROF_DIR: profileDir } } : {});
try {
  const users = await target.createUsers(CONVERSATIONS * 2);
  const conversations: string[] = [];
  for (let c = 0; c < CONVERSATIONS; c++) conversations.push(await target.conversation([users[2 * c]!, users[2 * c + 1]!], 'direct'));
  const addresses = new AddressPool(250, Math.floor(Math.random() * 200));
  const sockets = await connectMany(users.length, 32, (i) => ({ url: target.url, token: users[i]!.token, localAddress: addresses.next() }), undefined, target.connect);
  const senders: Sender[] = conversations.map((conversationId, c) => ({ socket: sockets[2 * c]!, conversationId }));
  const step = (prefix: string, stepRate: number, seconds: number) =>
    runStep(senders, { rate: stepRate, seconds, warmupSeconds: 1, window: 32, clientIdPrefix: prefix, content: (k) => `message ${k}${FILLER}` });
  await step('warm-up-', 1000, 3);
  for (let r = 0; r < Number(values.repeats); r++) {
    await sleep(500);
    const t0 = performance.now();
    const server = cpuMeter(target.pid);
    const machine = machineCpuMeter();
    const database = databaseCpuMeter(target.pid);
    const result = await step(`r${r}-`, rate, Number(values.seconds));
    const elapsed = (performance.now() - t0) / 1000;
    const { postgresCores, benchCores } = machine();
    const perMessage = (cores: number) => Math.round(((cores * elapsed) / result.acked) * 1e6);
    console.log(
      `${key} at ${rate}/s: ${result.acked} acked, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms; ` +
        `CPU µs per message: server ${perMessage(server().cores)}, PostgreSQL ${perMessage(postgresCores)}` +
        `${database ? ` (its database's backends ${perMessage(database().cores)})` : ''}, generator ${perMessage(benchCores)}`,
    );
  }
  for (const s of sockets) s.close();
} finally {
  await target.stop();
}
const profile = profileDir ? newestProfile(profileDir) : undefined;
if (profile) {
  const summary = summarizeProfile(profile, 40);
  console.log(`profile ${profile}: ${Math.round(summary.totalMs)} ms sampled`);
  for (const a of summary.byArea) console.log(`  ${a.area}: ${a.selfPct}%`);
  for (const f of summary.top) console.log(`  ${f.selfPct}% ${f.function} ${f.location}`);
}
process.exit(0);
