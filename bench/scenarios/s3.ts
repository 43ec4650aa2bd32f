/**
 * S3 — group fan-out: deliveries per second in rooms of 10, 100 and 1,000 sockets.
 *
 * A room of S sockets is a group of min(S, U) users with S / users sockets each (a user may have
 * many tabs; registering 1,000 users would cost ~50 s of argon2id CPU). Up to 10 members send,
 * closed loop: a send may go when fewer than `window` messages are unacknowledged *or* undelivered
 * (sent × S − delivered < window × S), so receivers keep up and nothing queues without bound in the
 * server. Receivers are lean: they count raw `chat:message_received` frames without decoding them.
 * Confab stores every message (PostgreSQL) and also sends each other member's sockets a
 * `notification` event (counted separately); the baselines: stores nothing (the ceiling) and one
 * INSERT per message. ejabberd: a MUC room (XEP-0045) with MAM on PostgreSQL, every socket an
 * occupant under its own nickname; a send is a `groupchat` message, acknowledged by a
 * stream-management ack, and the room echoes it to every occupant, the sender included.
 */
import { AddressPool, ackOk, connectMany, eventPrefix, frameIs, type ChatSocket } from '../lib/lean.ts';
import { cpuMeter, log, selfCpuMeter, sleep, until } from '../lib/proc.ts';
import { ejabberdArchive, startTarget, type BenchUser, type Target } from '../lib/targets.ts';
import { fmt, type Check, type ProfileSummary, type RunContext, type Scenario } from '../lib/types.ts';

const RECEIVED = eventPrefix('chat:message_received');
const NOTIFICATION = eventPrefix('notification');
const CONTENT = 'fan-out test message — about as long as a short chat line, sent to everyone in the room';

interface Phase {
  roomSize: number;
  users: number;
  socketsPerUser: number;
  senders: number;
  windowMessages: number;
  seconds: number;
  messagesPerSecond: number;
  deliveriesPerSecond: number;
  notificationsPerSecond: number;
  errors: number;
  /** Messages sent in the phase (warm-up included). */
  sent: number;
  /** Deliveries still missing after the final drain (dropped slow consumers would show here). */
  missing: number;
  serverCores: number;
  generatorCores: number;
}

async function phase(target: Target, users: BenchUser[], roomSize: number, seconds: number, addressStart: number): Promise<Phase> {
  const userCount = Math.min(roomSize, users.length);
  const perUser = Math.ceil(roomSize / userCount);
  const members = users.slice(0, userCount);
  const conversationId = await target.conversation(members, 'group');
  let delivered = 0;
  let notifications = 0;
  const addresses = new AddressPool(250, addressStart);
  const sockets: ChatSocket[] = await connectMany(
    roomSize,
    64,
    (i) => ({
      url: target.url,
      token: members[i % userCount]!.token,
      localAddress: addresses.next(),
      onEvent: (f) => {
        if (frameIs(f, RECEIVED)) delivered++;
        else if (frameIs(f, NOTIFICATION)) notifications++;
      },
    }),
    undefined,
    target.connect,
  );
  try {
    await sleep(500);
    delivered = 0;
    notifications = 0;
    const senderCount = Math.min(10, userCount);
    const senders = sockets.slice(0, senderCount);
    const windowMessages = Math.max(8, Math.min(200, Math.round(20_000 / roomSize)));
    const inflight = senders.map(() => 0);
    let sent = 0;
    let acked = 0;
    let errors = 0;
    let stopped = false;
    let rr = 0;
    const pump = () => {
      while (!stopped && sent * roomSize - delivered < windowMessages * roomSize) {
        // Next sender with room in its own ack window (64), round robin.
        let s = -1;
        for (let j = 0; j < senderCount; j++) {
          const c = (rr + j) % senderCount;
          if (inflight[c]! < 64) {
            s = c;
            break;
          }
        }
        if (s < 0) return;
        rr = s + 1;
        inflight[s]!++;
        const k = sent++;
        senders[s]!.emit('chat:message_send', { conversationId, content: CONTENT, clientId: `f${roomSize}-${k}` }, (frame, offset) => {
          inflight[s]!--;
          acked++;
          if (!ackOk(frame, offset)) errors++;
          pump();
        });
      }
    };
    const timer = setInterval(pump, 1);
    pump();
    const warmup = Math.min(2, seconds / 4) * 1000;
    await sleep(warmup);
    const d0 = delivered;
    const n0 = notifications;
    const a0 = acked;
    const cpu = cpuMeter(target.pid);
    const genCpu = selfCpuMeter();
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const generatorCores = genCpu();
    const elapsed = (performance.now() - t0) / 1000;
    const d1 = delivered;
    const n1 = notifications;
    const a1 = acked;
    const serverCores = cpu().cores;
    stopped = true;
    clearInterval(timer);
    await until(() => acked === sent && delivered >= sent * roomSize, 15_000);
    return {
      roomSize,
      users: userCount,
      socketsPerUser: perUser,
      senders: senderCount,
      windowMessages,
      seconds: +elapsed.toFixed(1),
      messagesPerSecond: Math.round((a1 - a0) / elapsed),
      deliveriesPerSecond: Math.round((d1 - d0) / elapsed),
      notificationsPerSecond: Math.round((n1 - n0) / elapsed),
      errors,
      sent,
      missing: sent * roomSize - delivered,
      serverCores,
      generatorCores,
    };
  } finally {
    for (const s of sockets) s.close();
    await sleep(300);
  }
}

interface TargetRun {
  target: string;
  label: string;
  phases: Phase[];
  /** ejabberd only: rows in its MAM archive after the run, against one per message (the room's archive). */
  archive?: { expected: number; rows: number };
  profile?: ProfileSummary;
}

async function runTarget(ctx: RunContext, key: string, sizes: number[], userCount: number, seconds: number, slot: number): Promise<TargetRun> {
  const target = await startTarget(key, ctx.targetOptions(key, 'S3'));
  const run: TargetRun = { target: key, label: target.label, phases: [] };
  try {
    const users = await target.createUsers(userCount);
    for (const [i, size] of sizes.entries()) {
      const p = await phase(target, users, size, seconds, slot * 60 + i * 20);
      run.phases.push(p);
      log(`S3 ${key}: room ${size}: ${fmt.int(p.messagesPerSecond)} msgs/s, ${fmt.int(p.deliveriesPerSecond)} deliveries/s (+${fmt.int(p.notificationsPerSecond)} notifications/s), server ${p.serverCores} cores, generator ${p.generatorCores} cores, errors ${p.errors}, missing ${p.missing}`);
    }
    const sent = run.phases.reduce((n, p) => n + p.sent, 0);
    const archive = await ejabberdArchive(target, sent);
    if (archive) {
      run.archive = archive;
      log(`S3 ${key}: archive holds ${fmt.int(archive.rows)} rows for ${fmt.int(sent)} messages (expected ${fmt.int(archive.expected)})`);
    }
  } finally {
    await target.stop();
  }
  const profile = await ctx.profiled(key, 'S3');
  if (profile) run.profile = profile;
  return run;
}

export const s3: Scenario = async (ctx) => {
  const sizes = [10, 100, 1000];
  const userCount = ctx.quick ? 100 : 200;
  const seconds = ctx.quick ? 3 : 8;
  const order = ctx.pick(['baseline-none', 'confab-postgres', 'baseline-insert-postgres', 'ejabberd-postgres']);
  const runs: TargetRun[] = [];
  for (const [i, key] of order.entries()) {
    log(`S3: ${key}`);
    runs.push(await runTarget(ctx, key, sizes, userCount, seconds, i));
    await sleep(1000);
  }
  const get = (key: string, size: number) => runs.find((r) => r.target === key)?.phases.find((p) => p.roomSize === size);
  const checks: Check[] = sizes.flatMap((size) => {
    const c = get('confab-postgres', size)?.deliveriesPerSecond ?? NaN;
    const b = get('baseline-none', size)?.deliveriesPerSecond ?? NaN;
    const e = get('ejabberd-postgres', size)?.deliveriesPerSecond ?? NaN;
    return [
      {
        what: `S3 deliveries/s, room of ${fmt.int(size)}, vs store-nothing baseline`,
        target: '≥ 0.8×',
        measured: `${fmt.int(c)} vs ${fmt.int(b)} = ${fmt.ratio(c, b)}`,
        met: Number.isFinite(c) && Number.isFinite(b) ? c >= 0.8 * b : null,
      },
      {
        what: `S3 Confab ahead of ejabberd, room of ${fmt.int(size)}`,
        target: '> 1×',
        measured: `${fmt.int(c)} vs ${fmt.int(e)} = ${fmt.ratio(c, e)}`,
        met: Number.isFinite(c) && Number.isFinite(e) ? c > e : null,
      },
    ];
  });
  const profiles = Object.fromEntries(runs.filter((r) => r.profile).map((r) => [r.target, r.profile!]));
  return {
    params: { roomSizes: sizes, users: userCount, senders: 'min(10, users in room)', measuredSeconds: seconds, flowControl: 'sent × size − delivered < window × size', receiver: 'lean: counts raw frames' },
    tables: [
      {
        columns: ['room', 'server', 'users × sockets', 'msgs/s', 'deliveries/s', 'ratio to store-nothing', 'notifications/s', 'server CPU (cores)', 'generator CPU (cores)'],
        rows: sizes.flatMap((size) =>
          runs.map((r) => {
            const p = r.phases.find((x) => x.roomSize === size);
            const base = get('baseline-none', size);
            return p
              ? [fmt.int(size), r.label, `${p.users} × ${p.socketsPerUser}`, fmt.int(p.messagesPerSecond), fmt.int(p.deliveriesPerSecond), base ? fmt.ratio(p.deliveriesPerSecond, base.deliveriesPerSecond) : 'n/a', fmt.int(p.notificationsPerSecond), `${p.serverCores}`, `${p.generatorCores}`]
              : [fmt.int(size), r.label, '–', '–', '–', '–', '–', '–', '–'];
          }),
        ),
      },
    ],
    checks,
    notes: [
      ...runs.filter((r) => r.archive).map((r) => `${r.label}: its archive held ${fmt.int(r.archive!.rows)} rows after the run, for ${fmt.int(r.archive!.expected)} messages (one each, in the room's archive).`),
      'Deliveries count `chat:message_received` frames at the receivers (the sender\'s own sockets included, as both servers emit to the whole room).',
      'Confab\'s in-app `notification` events (sent for mentions and direct messages only, so none here since commit c63054c) would be extra frames the baseline does not send: counted in their own column.',
      'ejabberd: each socket is a MUC occupant with its own nickname (occupant presence broadcast off, no join history); the room stores each message once in its MAM archive and then sends it to every occupant. A send counts as acknowledged when the room echoes it back to its sender, which the room does after storing it (ejabberd\'s stream-management ack would come before the room stored anything).',
    ],
    ...(Object.keys(profiles).length ? { profiles } : {}),
    raw: runs.map(({ profile: _p, ...r }) => r),
  };
};
