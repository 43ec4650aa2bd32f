/**
 * S4 — end-to-end latency at a fixed rate: 2,000 sends/s into one group of 20 members (one socket
 * each, every member sends 100/s), i.e. 40,000 deliveries/s. Latency is measured from the time a
 * send was due (open loop) to its arrival at each of the 19 other members, with one clock (senders
 * and receivers share this process's performance.now()); the due time rides in the content.
 * The server's event-loop delay over the measured window comes from Confab's Prometheus default
 * metrics (confab_nodejs_eventloop_lag_*; the baseline reports the same histogram on /stats).
 * ejabberd (not Node: no event-loop figure) gets the same load as `groupchat` messages into a MUC
 * room with MAM on PostgreSQL; the room echoes each message to its sender too (not counted).
 */
import { Latency, type LatencySummary } from '../lib/histogram.ts';
import { runStep, type StepResult } from '../lib/load.ts';
import { AddressPool, connectMany, eventPrefix, frameIs, type ChatSocket } from '../lib/lean.ts';
import { cpuMeter, log, sleep, until } from '../lib/proc.ts';
import { ejabberdArchive, startTarget } from '../lib/targets.ts';
import { fmt, type Check, type ProfileSummary, type RunContext, type Scenario } from '../lib/types.ts';

const RECEIVED = eventPrefix('chat:message_received');
const MARK = Buffer.from('"content":"L');
const FILLER = ' a chat line of ordinary length, sent to a group of twenty people';

interface TargetRun {
  target: string;
  label: string;
  rate: number;
  members: number;
  delivery: LatencySummary;
  ack: StepResult['latency'];
  achieved: number;
  sent: number;
  errors: number;
  /** Sends never acknowledged (after the drain). */
  lost: number;
  expectedDeliveries: number;
  deliveries: number;
  eventLoopLagMs: { p50: number; p99: number; max: number };
  serverCores: number;
  /** ejabberd only: rows in its MAM archive after the run, against one per message (the room's archive). */
  archive?: { expected: number; rows: number };
  profile?: ProfileSummary;
}

async function runTarget(ctx: RunContext, key: string, rate: number, members: number, seconds: number, warmupSeconds: number, slot: number): Promise<TargetRun> {
  const target = await startTarget(key, ctx.targetOptions(key, 'S4'));
  const sockets: ChatSocket[] = [];
  try {
    const users = await target.createUsers(members);
    const conversationId = await target.conversation(users, 'group');
    const latency = new Latency();
    let measureFrom = Infinity;
    let deliveries = 0;
    const addresses = new AddressPool(250, 100 + slot * 25);
    sockets.push(
      ...(await connectMany(
        members,
        20,
        (i) => ({
          url: target.url,
          token: users[i]!.token,
          localAddress: addresses.next(),
          onEvent: (f) => {
          if (!frameIs(f, RECEIVED)) return;
          const now = performance.now();
          const at = f.indexOf(MARK);
          if (at < 0) return;
          // Content: "L<due ms>|<sender index>|…"
          const start = at + MARK.length;
          const bar = f.indexOf(0x7c, start);
          const bar2 = f.indexOf(0x7c, bar + 1);
          const due = Number(f.toString('latin1', start, bar));
          const sender = Number(f.toString('latin1', bar + 1, bar2));
          if (sender === i) return; // the sender's own copy
          deliveries++;
          if (due >= measureFrom) latency.record(now - due);
        },
        }),
        undefined,
        target.connect,
      )),
    );
    // Warm-up at a tenth of the rate (JIT, pools), not recorded.
    const senders = sockets.map((socket) => ({ socket, conversationId }));
    const warmup = await runStep(senders, { rate: rate / 10, seconds: 2, warmupSeconds: 0, window: 500, clientIdPrefix: 'w', content: (k, due) => `L${due.toFixed(3)}|${k % members}|warm-up` });
    await sleep(500);
    deliveries = 0;
    const t0 = performance.now();
    measureFrom = t0 + warmupSeconds * 1000;
    let cpu: (() => { cores: number }) | undefined;
    let lagReset: Promise<unknown> | undefined;
    const timer = setTimeout(() => {
      cpu = cpuMeter(target.pid);
      lagReset = target.eventLoop();
    }, warmupSeconds * 1000);
    const step = await runStep(senders, {
      rate,
      seconds: seconds + warmupSeconds,
      warmupSeconds,
      window: 500,
      clientIdPrefix: 'm',
      content: (k, due) => `L${due.toFixed(3)}|${k % members}|${FILLER}`,
      // A server slower than the offered rate (ejabberd's room) works off its backlog after the
      // step: wait for it, so every send is accounted for and its latency counts.
      drainMs: 180_000,
    });
    clearTimeout(timer);
    const serverCores = cpu?.().cores ?? NaN;
    await lagReset;
    const eventLoopLagMs = await target.eventLoop();
    const expectedDeliveries = step.acked * (members - 1);
    await until(() => deliveries >= expectedDeliveries, 10_000);
    const archive = await ejabberdArchive(target, warmup.sent + step.sent);
    const run: TargetRun = {
      target: key,
      label: target.label,
      rate,
      members,
      delivery: latency.summary(),
      ack: step.latency,
      achieved: step.achieved,
      sent: step.sent,
      errors: step.errors,
      lost: step.lost,
      expectedDeliveries,
      deliveries,
      eventLoopLagMs,
      serverCores,
      ...(archive ? { archive } : {}),
    };
    if (archive) log(`S4 ${key}: archive holds ${fmt.int(archive.rows)} rows for ${fmt.int(archive.expected)} messages`);
    log(
      `S4 ${key}: ${fmt.int(step.achieved)} sends/s; delivery p50 ${run.delivery.p50} / p99 ${run.delivery.p99} / p99.9 ${run.delivery.p999} / max ${run.delivery.max} ms; ` +
        `event loop p50 ${eventLoopLagMs.p50} / p99 ${eventLoopLagMs.p99} / max ${eventLoopLagMs.max} ms; server ${serverCores} cores; deliveries ${deliveries}/${expectedDeliveries}; lost ${step.lost}`,
    );
    return run;
  } finally {
    for (const s of sockets) s.close();
    await target.stop();
  }
}

export const s4: Scenario = async (ctx) => {
  const rate = 2000;
  const members = 20;
  const seconds = ctx.quick ? 4 : 20;
  const warmupSeconds = ctx.quick ? 1 : 2;
  const order = ctx.pick(['baseline-insert-postgres', 'confab-postgres', 'ejabberd-postgres', 'baseline-none', 'confab-embedded']);
  const runs: TargetRun[] = [];
  for (const [i, key] of order.entries()) {
    log(`S4: ${key}`);
    const r = await runTarget(ctx, key, rate, members, seconds, warmupSeconds, i);
    const profile = await ctx.profiled(key, 'S4');
    runs.push(profile ? { ...r, profile } : r);
    await sleep(1000);
  }
  const confab = runs.find((r) => r.target === 'confab-postgres');
  const d = confab?.delivery;
  const ejabberd = runs.find((r) => r.target === 'ejabberd-postgres')?.delivery;
  const checks: Check[] = [
    { what: 'S4 p50 delivery latency (Confab, PostgreSQL)', target: '≤ 5 ms', measured: fmt.ms(d?.p50 ?? NaN), met: d ? d.p50 <= 5 : null },
    { what: 'S4 p99 delivery latency (Confab, PostgreSQL)', target: '≤ 25 ms', measured: fmt.ms(d?.p99 ?? NaN), met: d ? d.p99 <= 25 : null },
    { what: 'S4 p99.9 delivery latency (Confab, PostgreSQL)', target: '≤ 100 ms', measured: fmt.ms(d?.p999 ?? NaN), met: d ? d.p999 <= 100 : null },
    {
      what: 'S4 Confab ahead of ejabberd: p99 delivery latency (both on PostgreSQL)',
      target: '≤ ejabberd',
      measured: `${fmt.ms(d?.p99 ?? NaN)} vs ${fmt.ms(ejabberd?.p99 ?? NaN)}`,
      met: d && ejabberd ? d.p99 <= ejabberd.p99 : null,
    },
  ];
  const profiles = Object.fromEntries(runs.filter((r) => r.profile).map((r) => [r.target, r.profile!]));
  return {
    params: { rate, members, deliveriesPerSecond: rate * (members - 1), measuredSeconds: seconds, warmupSeconds, senders: 'all 20 members, 100 sends/s each' },
    tables: [
      {
        columns: ['server', 'sends/s', 'delivery p50', 'p99', 'p99.9', 'max', 'ack p50', 'ack p99', 'event-loop lag p50 / p99 / max', 'server CPU (cores)', 'delivered'],
        rows: runs.map((r) => [
          r.label,
          fmt.int(r.achieved),
          fmt.ms(r.delivery.p50),
          fmt.ms(r.delivery.p99),
          fmt.ms(r.delivery.p999),
          fmt.ms(r.delivery.max),
          fmt.ms(r.ack.p50),
          fmt.ms(r.ack.p99),
          Number.isNaN(r.eventLoopLagMs.p99) ? 'n/a (not Node)' : `${r.eventLoopLagMs.p50} / ${r.eventLoopLagMs.p99} / ${r.eventLoopLagMs.max} ms`,
          `${r.serverCores}`,
          `${fmt.int(r.deliveries)} / ${fmt.int(r.expectedDeliveries)}${r.lost ? `, ${fmt.int(r.lost)} sends lost` : ''}`,
        ]),
      },
    ],
    checks,
    notes: [
      ...runs.filter((r) => r.archive).map((r) => `${r.label}: its archive held ${fmt.int(r.archive!.rows)} rows after the run, for ${fmt.int(r.archive!.expected)} messages (one each, in the room's archive).`),
      'Delivery latency: from the time the send was due to its arrival at each other member (19 per message), one clock; the sender\'s own copy is not counted.',
      'Event-loop lag: the server\'s monitorEventLoopDelay histogram (10 ms sampling, the sampling interval subtracted) over the measured window.',
      'ejabberd: `groupchat` messages into a MUC room with MAM on PostgreSQL, every member an occupant; a send counts as acknowledged when the room echoes it to its sender, which it does after storing it in the room\'s archive.',
      'ejabberd\'s room is one Erlang process that archives each message (one INSERT, waited for) before it forwards it, one message at a time, so a room takes no more messages per second than that loop allows (S3\'s room of 10 shows the rate). Where that is below the offered 2,000/s, its latency here is the backlog growing over the step and its sends/s within the window can read 0; every message still arrives and is archived (the archive check above).',
    ],
    ...(Object.keys(profiles).length ? { profiles } : {}),
    raw: runs.map(({ profile: _p, ...r }) => r),
  };
};
