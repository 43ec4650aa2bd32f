/**
 * S2 — 1:1 messages committed before the ack: the highest rate whose p99 ack latency is ≤ 100 ms.
 *
 * C direct conversations in parallel, each between two users with one socket each; the first of
 * each pair sends (C senders, a window of W unacknowledged sends each), both sockets receive the
 * message (Confab also sends the recipient a `notification`). The offered rate rises step by step
 * (open loop, latency from the time a send was due) until p99 exceeds 100 ms, the achieved rate falls
 * below 90% of the offered one, or a send fails; one bisection step refines the last good rate.
 * Confab on PostgreSQL and on its embedded database, against the baseline's one INSERT per message
 * on PostgreSQL and on PGlite. A send is acknowledged only after its transaction committed.
 * ejabberd on PostgreSQL (mod_mam) as a real peer: its "ack" is a stream-management ack (XEP-0198),
 * which says the server handled the stanza; see bench/lib/intro.md for how that differs.
 */
import { runStep, type Sender, type StepResult } from '../lib/load.ts';
import { AddressPool, connectMany, eventPrefix, frameIs, type ChatSocket } from '../lib/lean.ts';
import { cpuMeter, log, machineCpuMeter, sleep } from '../lib/proc.ts';
import { ejabberdArchive, startTarget, type Target } from '../lib/targets.ts';
import { fmt, type Check, type ProfileSummary, type RunContext, type Scenario } from '../lib/types.ts';

const RATES = [100, 250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6500, 8000, 10_000, 12_500, 15_000, 20_000, 25_000, 30_000, 40_000, 50_000];
const P99_LIMIT_MS = 100;
const RECEIVED = eventPrefix('chat:message_received');
const FILLER = ' — the quick brown fox jumps over the lazy dog, and a chat message is about this long.';

type Step = StepResult & { passed: boolean; serverCores: number; generatorCores: number; postgresCores: number; deliveries: number };

interface TargetRun {
  target: string;
  label: string;
  steps: Array<Step>;
  best: Step | undefined;
  /** ejabberd only: rows in its MAM archive after the run, against two per send (sender's and recipient's archive). */
  archive?: { expected: number; rows: number };
}

const passes = (s: StepResult) => s.latency.p99 <= P99_LIMIT_MS && s.achieved >= 0.9 * s.offered && s.errors === 0 && s.lost === 0;

async function runTarget(ctx: RunContext, key: string, conversations: number, window: number, stepSeconds: number, addressStart: number): Promise<TargetRun & { profile?: ProfileSummary }> {
  const target: Target = await startTarget(key, ctx.targetOptions(key, 'S2'));
  const sockets: ChatSocket[] = [];
  const run: TargetRun = { target: key, label: target.label, steps: [], best: undefined };
  try {
    const users = await target.createUsers(conversations * 2);
    const convs: string[] = [];
    for (let c = 0; c < conversations; c++) convs.push(await target.conversation([users[2 * c]!, users[2 * c + 1]!], 'direct'));
    let deliveries = 0;
    const addresses = new AddressPool(250, addressStart);
    sockets.push(
      ...(await connectMany(
        users.length,
        32,
        (i) => ({
          url: target.url,
          token: users[i]!.token,
          localAddress: addresses.next(),
          onEvent: (f) => {
            if (frameIs(f, RECEIVED)) deliveries++;
          },
        }),
        undefined,
        target.connect,
      )),
    );
    const senders: Sender[] = convs.map((conversationId, c) => ({ socket: sockets[2 * c]!, conversationId }));
    let stepNumber = 0;
    const stepRun = async (rate: number) => {
      const d0 = deliveries;
      stepNumber++;
      const cpu = cpuMeter(target.pid);
      const machine = machineCpuMeter();
      const r = await runStep(senders, {
        rate,
        seconds: stepSeconds,
        warmupSeconds: Math.min(1, stepSeconds / 4),
        window,
        // Unique per step: a step run twice must not resend the first run's clientIds (Confab would
        // rightly answer them as repeats, which is a different and slower path).
        clientIdPrefix: `s${stepNumber}-`,
        content: (k) => `message ${k}${FILLER}`,
      });
      // Where the machine's two cores went during the step: the server, the generator (this process)
      // and PostgreSQL (0 for the embedded targets, whose database runs inside the server).
      const { benchCores: generatorCores, postgresCores } = machine();
      const step = { ...r, passed: passes(r), serverCores: cpu().cores, generatorCores, postgresCores, deliveries: deliveries - d0 };
      run.steps.push(step);
      log(`S2 ${key}: offered ${rate}/s → ${r.achieved}/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, errors ${r.errors}, lost ${r.lost}, server ${step.serverCores} / generator ${generatorCores} / PostgreSQL ${postgresCores} cores${step.passed ? '' : ' (over the limit)'}`);
      await sleep(500);
      return step;
    };
    // Warm-up (not recorded): JIT, pools, caches.
    const warmup = await runStep(senders, { rate: 200, seconds: ctx.quick ? 1 : 2, warmupSeconds: 0, window, clientIdPrefix: 'w-', content: (k) => `warm-up ${k}${FILLER}` });
    let lastGood: number | undefined;
    let firstBad: number | undefined;
    for (const rate of RATES) {
      // A step over the limit is run once more before it counts: on a shared machine one hiccup
      // (another process, a checkpoint) can push a short step's p99 over 100 ms.
      const step = (await stepRun(rate)).passed ? run.steps.at(-1)! : await stepRun(rate);
      if (!step.passed) {
        firstBad = rate;
        break;
      }
      lastGood = rate;
    }
    if (lastGood !== undefined && firstBad !== undefined) {
      const mid = Math.round((lastGood + firstBad) / 2 / 100) * 100;
      if (mid > lastGood && mid < firstBad && !(await stepRun(mid)).passed) await stepRun(mid);
    }
    run.best = run.steps.filter((s) => s.passed).sort((a, b) => b.achieved - a.achieved)[0];
    const sent = warmup.sent + run.steps.reduce((n, s) => n + s.sent, 0);
    const archive = await ejabberdArchive(target, sent * 2);
    if (archive) {
      run.archive = archive;
      log(`S2 ${key}: archive holds ${fmt.int(archive.rows)} rows for ${fmt.int(sent)} sends (expected ${fmt.int(archive.expected)})`);
    }
  } finally {
    for (const s of sockets) s?.close();
    await target.stop();
  }
  const profile = await ctx.profiled(key, 'S2');
  return profile ? { ...run, profile } : run;
}

export const s2: Scenario = async (ctx) => {
  const conversations = ctx.quick ? 16 : 64;
  const window = 32;
  const stepSeconds = ctx.quick ? 2 : 5;
  const order = ctx.pick(['baseline-insert-postgres', 'confab-postgres', 'ejabberd-postgres', 'baseline-insert-pglite', 'confab-embedded']);
  // Capacity under a p99 limit is sensitive to any hiccup of a shared machine: the full run goes
  // round the targets twice (alternating) and keeps each target's better round.
  const rounds = ctx.quick ? 1 : 2;
  const all: Array<TargetRun & { profile?: ProfileSummary; round: number }> = [];
  for (let round = 1; round <= rounds; round++) {
    for (const [i, key] of order.entries()) {
      log(`S2: ${key}${rounds > 1 ? `, round ${round}` : ''}`);
      all.push({ ...(await runTarget(ctx, key, conversations, window, stepSeconds, (i + order.length * (round - 1)) * 30)), round });
      await sleep(1000);
    }
  }
  const runs = order.map((key) => all.filter((r) => r.target === key).sort((a, b) => (b.best?.achieved ?? 0) - (a.best?.achieved ?? 0))[0]!);
  const perRound = (key: string) => all.filter((r) => r.target === key).map((r) => fmt.int(r.best?.achieved ?? 0)).join(' / ');
  // 0 when the target ran but not even the lowest step passed; NaN when it did not run (--only).
  const rate = (k: string) => {
    const r = runs.find((x) => x.target === k);
    return r ? (r.best?.achieved ?? 0) : NaN;
  };
  const known = (...keys: string[]) => keys.every((k) => !Number.isNaN(rate(k)));
  const ratioCheck = (what: string, a: string, b: string, min: number): Check => ({
    what,
    target: `≥ ${min}×`,
    measured: `${fmt.int(rate(a))} vs ${fmt.int(rate(b))} = ${fmt.ratio(rate(a), rate(b))}`,
    met: known(a, b) ? rate(a) >= min * rate(b) : null,
  });
  // Server CPU per message falls as the rate rises (batches and coalesced writes grow), so the two
  // servers are compared at one rate: the highest offered rate that both passed, in their best rounds.
  const serverCpuAtSameRate = (a: string, b: string) => {
    const passed = (k: string) => new Map(runs.find((r) => r.target === k)?.steps.filter((s) => s.passed).map((s) => [s.offered, s] as const) ?? []);
    const [pa, pb] = [passed(a), passed(b)];
    const common = [...pa.keys()].filter((o) => pb.has(o)).sort((x, y) => y - x)[0];
    if (common === undefined) return undefined;
    const perMessage = (s: Step) => (s.serverCores / s.achieved) * 1e6;
    return { rate: common, a: perMessage(pa.get(common)!), b: perMessage(pb.get(common)!) };
  };
  const cpu = serverCpuAtSameRate('confab-postgres', 'baseline-insert-postgres');
  const checks: Check[] = [
    { what: 'S2 Confab msgs/s on PostgreSQL (p99 ≤ 100 ms)', target: '≥ 20,000', measured: fmt.int(rate('confab-postgres')), met: known('confab-postgres') ? rate('confab-postgres') >= 20_000 : null },
    ratioCheck('S2 Confab vs one-INSERT baseline on PostgreSQL', 'confab-postgres', 'baseline-insert-postgres', 2),
    {
      what: 'S2 server CPU per message, Confab vs one-INSERT baseline (PostgreSQL, same rate)',
      target: '≤ 1×',
      measured: cpu ? `${fmt.int(cpu.a)} vs ${fmt.int(cpu.b)} µs at ${fmt.int(cpu.rate)}/s = ${fmt.ratio(cpu.a, cpu.b)}` : 'n/a',
      met: cpu ? cpu.a <= cpu.b : null,
    },
    {
      what: 'S2 Confab ahead of ejabberd (both on PostgreSQL)',
      target: '> 1×',
      measured: `${fmt.int(rate('confab-postgres'))} vs ${fmt.int(rate('ejabberd-postgres'))} = ${fmt.ratio(rate('confab-postgres'), rate('ejabberd-postgres'))}`,
      met: known('confab-postgres', 'ejabberd-postgres') ? rate('confab-postgres') > rate('ejabberd-postgres') : null,
    },
    { what: 'S2 Confab msgs/s embedded (p99 ≤ 100 ms)', target: '≥ 10,000', measured: fmt.int(rate('confab-embedded')), met: known('confab-embedded') ? rate('confab-embedded') >= 10_000 : null },
    ratioCheck('S2 Confab embedded vs one-INSERT baseline on PGlite', 'confab-embedded', 'baseline-insert-pglite', 2),
  ];
  const row = (r: TargetRun) => {
    const b = r.best;
    // The step that ended the ramp: the first failing rate above the best one.
    const failed = r.steps.find((s) => !s.passed && s.offered > (b?.offered ?? 0));
    return [
      r.label,
      b ? fmt.int(b.achieved) : 'none passed',
      perRound(r.target),
      b ? fmt.ms(b.latency.p50) : '–',
      b ? fmt.ms(b.latency.p99) : '–',
      b ? `${b.serverCores}` : '–',
      // Over the whole step (warm-up and drain included) against the measured rate: a close estimate.
      b ? [b.serverCores, b.postgresCores, b.generatorCores].map((cores) => fmt.int((cores / b.achieved) * 1e6)).join(' / ') : '–',
      failed ? `${fmt.int(failed.offered)}/s: ${fmt.int(failed.achieved)}/s, p99 ${fmt.ms(failed.latency.p99)}${failed.errors ? `, ${failed.errors} errors` : ''}` : 'never (top rate passed)',
    ];
  };
  const profiles = Object.fromEntries(runs.filter((r) => r.profile).map((r) => [r.target, r.profile!]));
  return {
    params: { conversations, senders: conversations, windowPerSender: window, stepSeconds, rounds, rates: 'a 200/s warm-up, then rising steps 100 … 50,000/s (a step over the limit is tried twice), then one bisection', p99LimitMs: P99_LIMIT_MS },
    tables: [
      {
        columns: ['server', 'msgs/s at p99 ≤ 100 ms', 'each round', 'p50', 'p99', 'server CPU (cores)', 'CPU µs per message: server / PostgreSQL / generator', 'first step over the limit'],
        rows: runs.map(row),
      },
      {
        caption: 'Ratios (same run)',
        columns: ['comparison', 'ratio'],
        rows: [
          ['Confab PostgreSQL / baseline one-INSERT PostgreSQL', fmt.ratio(rate('confab-postgres'), rate('baseline-insert-postgres'))],
          ['Confab PostgreSQL / ejabberd', fmt.ratio(rate('confab-postgres'), rate('ejabberd-postgres'))],
          ['Confab embedded / baseline one-INSERT PGlite', fmt.ratio(rate('confab-embedded'), rate('baseline-insert-pglite'))],
        ],
      },
    ],
    checks,
    notes: [
      ...runs.filter((r) => r.archive).map((r) => `${r.label}: its archive held ${fmt.int(r.archive!.rows)} rows after the run, for ${fmt.int(r.archive!.expected / 2)} sends × 2 archives (sender's and recipient's) = ${fmt.int(r.archive!.expected)}.`),
      'Latency is ack latency from the time each send was due (open loop): generator queueing counts.',
      'Each message is delivered to both sockets of its conversation; Confab also emits a `notification` to the recipient.',
      'ejabberd: a `<message type="chat">` to the recipient\'s bare JID, acknowledged by a stream-management ack (`<r/>` once per batch of sends, `<a h>`). The ack comes after ejabberd stored the message in the *sender\'s* archive (mod_mam, one INSERT, awaited) and routed it; the recipient\'s archive copy is written by the recipient\'s session, after the ack. XMPP does not echo a message to the sending connection, so it is delivered once (to the recipient), not twice.',
    ],
    ...(Object.keys(profiles).length ? { profiles } : {}),
    raw: all.map(({ profile: _p, ...r }) => r),
  };
};
