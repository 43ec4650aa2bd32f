/**
 * S5 — restart and reconnect storm. N SDK-like clients (bench/lib/mirror.ts: the Mirror algorithm,
 * the SDK's full-jitter reconnect backoff and outbox) are connected to one Confab node on
 * PostgreSQL, in G groups; one sender per group sends all along. The server is restarted
 * (SIGTERM, wait for the exit, start again on the same database, secret and port) while messages
 * are being sent. Measured: time until every client is connected again and caught up (its first
 * sync after reconnecting completed, which brings everything committed before it), lost messages
 * (in the database but missing at a client at the end, or acknowledged but not stored) and doubled
 * messages (one send stored or shown twice).
 * Confab only: the baseline keeps nothing to catch up from.
 */
import pg from 'pg';
import { AddressPool } from '../lib/lean.ts';
import { failureReasons, MirrorClient, OutboxSender } from '../lib/mirror.ts';
import { freePort, listenOverflows, log, mapLimit, sleep, until } from '../lib/proc.ts';
import { startConfab } from '../lib/targets.ts';
import { fmt, type Check, type ProfileSummary, type RunContext, type Scenario } from '../lib/types.ts';

interface Variant {
  key: 'sdk' | 'prompt';
  label: string;
  backoff: { baseMs?: number; capMs?: number };
}
const VARIANTS: Variant[] = [
  { key: 'sdk', label: "SDK's backoff (full jitter, 1 s base, ×2, 10 s cap)", backoff: {} },
  { key: 'prompt', label: 'prompt clients (full jitter, 1 s base, 2 s cap): what the server can do', backoff: { baseMs: 1000, capMs: 2000 } },
];

async function runStorm(ctx: RunContext, variant: Variant) {
  const n = ctx.quick ? 1000 : 10_000;
  const userCount = ctx.quick ? 40 : 200;
  const groupSize = 5;
  const groups = userCount / groupSize;
  const perGroupRate = 1; // sends per second per group
  const beforeSeconds = ctx.quick ? 2 : 4;
  const port = await freePort();
  const target = await startConfab('postgres', { ...ctx.targetOptions('confab-postgres', `S5-${variant.key}`), port });
  const clients: MirrorClient[] = [];
  const senders: OutboxSender[] = [];
  let sendTimer: NodeJS.Timeout | undefined;
  const db = new pg.Client({ connectionString: target.databaseUrl });
  await db.connect();
  try {
    const users = await target.createUsers(userCount);
    const convs: string[] = [];
    for (let g = 0; g < groups; g++) convs.push(await target.conversation(users.slice(g * groupSize, (g + 1) * groupSize), 'group'));
    const convOfUser = (u: number) => convs[Math.floor(u / groupSize)]!;
    const addresses = new AddressPool(250, 150);
    const url = () => target.url;
    log(`S5 (${variant.key}): connecting ${n} clients (${userCount} users × ${n / userCount} sockets, ${groups} groups)`);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) clients.push(new MirrorClient(url, users[i % userCount]!.token, addresses.next(), variant.backoff));
    await mapLimit(clients, 64, (c) => c.start());
    const connectSeconds = (performance.now() - t0) / 1000;
    log(`S5 (${variant.key}): ${n} clients connected and synced in ${connectSeconds.toFixed(1)} s`);
    for (let g = 0; g < groups; g++) {
      const s = new OutboxSender(new MirrorClient(url, users[g * groupSize]!.token, addresses.next(), variant.backoff), `g${g}-`);
      await s.client.start();
      senders.push(s);
    }
    // Senders: each group sends perGroupRate/s, spread over the second.
    let tick = 0;
    sendTimer = setInterval(() => {
      const g = tick++ % groups;
      senders[g]!.send(convs[g]!);
    }, 1000 / (groups * perGroupRate));
    await sleep(beforeSeconds * 1000);

    // ---- Restart ----
    let lastSeqAtKill = new Map<string, number>();
    const tKill = performance.now();
    const overflowsAtKill = listenOverflows();
    log('S5: SIGTERM');
    const { stoppedMs, startedMs } = await target.restart(async () => {
      const rows = await db.query<{ id: string; last_seq: number }>('SELECT id, last_seq FROM conversations WHERE id = ANY($1)', [convs]);
      lastSeqAtKill = new Map(rows.rows.map((r) => [r.id, Number(r.last_seq)]));
    });
    const tReady = performance.now();
    log(`S5: server down ${(stoppedMs / 1000).toFixed(2)} s to exit, ${(startedMs / 1000).toFixed(2)} s to start again`);
    const everyone = [...clients, ...senders.map((s) => s.client)];
    const caughtUp = (c: MirrorClient, convId: string) => c.syncedAt > tKill && (c.cursors[convId] ?? 0) >= (lastSeqAtKill.get(convId) ?? 0);
    const allBack = await until(() => clients.every((c, i) => caughtUp(c, convOfUser(i % userCount))), ctx.quick ? 60_000 : 90_000, 50);
    const tAllBack = performance.now();
    const droppedSyns = listenOverflows() - overflowsAtKill;
    const backTimes = clients.map((c) => (c.syncedAt > tKill ? c.syncedAt - tReady : NaN)).filter(Number.isFinite).sort((a, b) => a - b);
    const pct = (p: number) => backTimes[Math.min(backTimes.length - 1, Math.floor((p / 100) * backTimes.length))] ?? NaN;
    log(`S5: ${backTimes.length}/${n} clients back, all back ${allBack ? `${((tAllBack - tKill) / 1000).toFixed(2)} s after SIGTERM` : 'NOT within the limit'}`);
    await sleep(2000);

    // ---- Stop sending, let everything settle ----
    clearInterval(sendTimer);
    sendTimer = undefined;
    await until(() => senders.every((s) => s.pending.size === 0), 30_000, 50);
    const finalSeq = new Map((await db.query<{ id: string; last_seq: number }>('SELECT id, last_seq FROM conversations WHERE id = ANY($1)', [convs])).rows.map((r) => [r.id, Number(r.last_seq)]));
    const converged = await until(() => everyone.every((c) => Object.keys(c.cursors).every((id) => c.cursors[id] === finalSeq.get(id))), 20_000, 50);

    // ---- Verify against the database ----
    const rows = (
      await db.query<{ id: string; conversation_id: string; author_id: string; client_id: string | null }>(
        'SELECT id, conversation_id, author_id, client_id FROM messages WHERE conversation_id = ANY($1)',
        [convs],
      )
    ).rows;
    const idsByConv = new Map<string, string[]>();
    for (const r of rows) idsByConv.set(r.conversation_id, [...(idsByConv.get(r.conversation_id) ?? []), r.id]);
    const storedClientIds = new Map<string, number>();
    for (const r of rows) if (r.client_id) storedClientIds.set(`${r.author_id}/${r.client_id}`, (storedClientIds.get(`${r.author_id}/${r.client_id}`) ?? 0) + 1);
    const doubledInDb = [...storedClientIds.values()].filter((c) => c > 1).length;
    const storedIds = new Set(rows.map((r) => r.id));
    let ackedNotStored = 0;
    let acked = 0;
    for (const s of senders) {
      for (const a of s.acked.values()) {
        acked++;
        if (!storedIds.has(a.id)) ackedNotStored++;
      }
    }
    let missingAtClients = 0;
    let clientsMissing = 0;
    let doubledAtClients = 0;
    for (const [i, c] of clients.entries()) {
      const conv = convOfUser(i % userCount);
      const expected = idsByConv.get(conv) ?? [];
      const missing = expected.filter((id) => !c.messages.has(id)).length;
      missingAtClients += missing;
      if (missing) clientsMissing++;
      const seen = new Set<string>();
      for (const m of c.messages.values()) {
        if (!m.clientId) continue;
        const k = `${m.authorId}/${m.clientId}`;
        if (seen.has(k)) doubledAtClients++;
        seen.add(k);
      }
    }
    const totals = clients.reduce(
      (t, c) => ({ connects: t.connects + c.stats.connects, failed: t.failed + c.stats.failedAttempts, syncs: t.syncs + c.stats.syncs, gapSyncs: t.gapSyncs + c.stats.gapSyncs, dup: t.dup + c.stats.liveDuplicates }),
      { connects: 0, failed: 0, syncs: 0, gapSyncs: 0, dup: 0 },
    );
    const sentTotal = senders.reduce((t, s) => t + s.acked.size + s.pending.size, 0);
    const resent = senders.reduce((t, s) => t + s.resent, 0);
    const result = {
      clients: n,
      users: userCount,
      groups,
      socketsPerRoom: (n / userCount) * groupSize,
      sendRate: groups * perGroupRate,
      serverExitSeconds: +(stoppedMs / 1000).toFixed(2),
      serverStartSeconds: +(startedMs / 1000).toFixed(2),
      allBack,
      allBackAfterKillSeconds: allBack ? +((tAllBack - tKill) / 1000).toFixed(2) : NaN,
      allBackAfterReadySeconds: allBack ? +((tAllBack - tReady) / 1000).toFixed(2) : NaN,
      backAfterReadySeconds: { p50: +(pct(50) / 1000).toFixed(2), p90: +(pct(90) / 1000).toFixed(2), p99: +(pct(99) / 1000).toFixed(2), max: +((backTimes.at(-1) ?? NaN) / 1000).toFixed(2) },
      clientsBack: backTimes.length,
      converged,
      messagesSent: sentTotal,
      messagesAcked: acked,
      resent,
      ackedNotStored,
      missingAtClients,
      clientsMissing,
      doubledInDb,
      doubledAtClients,
      liveDuplicateDeliveries: totals.dup,
      reconnectAttemptsFailed: totals.failed,
      droppedSyns,
      connects: totals.connects,
      syncCalls: totals.syncs,
      gapSyncs: totals.gapSyncs,
    };
    log('S5:', JSON.stringify(result));
    log('S5 failed attempts by reason:', JSON.stringify(Object.fromEntries(failureReasons)));
    const reasons = Object.fromEntries(failureReasons);
    failureReasons.clear();
    return { variant: variant.key, label: variant.label, ...result, failureReasons: reasons, initialConnectAndSyncSeconds: +connectSeconds.toFixed(1), secondsBeforeRestart: beforeSeconds };
  } finally {
    if (sendTimer) clearInterval(sendTimer);
    for (const c of clients) c.stop();
    for (const s of senders) s.client.stop();
    await db.end();
    await target.stop();
  }
}

type Storm = Awaited<ReturnType<typeof runStorm>>;

export const s5: Scenario = async (ctx) => {
  const storms: Storm[] = [];
  const profiles: Record<string, ProfileSummary> = {};
  for (const v of VARIANTS) {
    storms.push(await runStorm(ctx, v));
    // The newest profile is the restarted process's: the reconnect storm.
    const profile = await ctx.profiled('confab-postgres', `S5-${v.key}`);
    if (profile) profiles[`confab-postgres, ${v.key} storm (after the restart)`] = profile;
    await sleep(1000);
  }
  const sdk = storms.find((r) => r.variant === 'sdk')!;
  const n = sdk.clients;
  const lost = (r: Storm) => r.ackedNotStored + r.missingAtClients;
  const doubled = (r: Storm) => r.doubledInDb + r.doubledAtClients;
  // Issue #19 counts from the moment the new process listens: the old one's exit (draining its
  // sockets, closing pools) is shown beside it but is not the storm.
  const back = (r: Storm) => (r.allBack ? `${r.allBackAfterReadySeconds} s after the new process listened (${r.allBackAfterKillSeconds} s after SIGTERM)` : `not all within the limit (${r.clientsBack}/${r.clients})`);
  const backInTime = (r: Storm) => r.allBack && r.allBackAfterReadySeconds <= 10;
  const checks: Check[] = [
    {
      what: `S5 all ${fmt.int(n)} clients back and caught up after a restart (SDK backoff)`,
      target: '≤ 10 s after listening',
      measured: back(sdk),
      met: backInTime(sdk),
    },
    ...storms
      .filter((r) => r.variant !== 'sdk')
      .map((r) => ({ what: `S5 all back, ${r.label}`, target: '≤ 10 s after listening', measured: back(r), met: backInTime(r) })),
    { what: 'S5 lost messages (both storms)', target: '0', measured: storms.map((r) => lost(r)).join(' + '), met: storms.every((r) => lost(r) === 0) },
    { what: 'S5 doubled messages (both storms)', target: '0', measured: storms.map((r) => doubled(r)).join(' + '), met: storms.every((r) => doubled(r) === 0) },
  ];
  const col = (f: (r: Storm) => string | number) => storms.map(f);
  return {
    params: {
      clients: n,
      users: sdk.users,
      groups: sdk.groups,
      socketsPerRoom: sdk.socketsPerRoom,
      sendsPerSecond: sdk.sendRate,
      secondsBeforeRestart: sdk.secondsBeforeRestart,
      storms: VARIANTS.map((v) => v.label),
    },
    tables: [
      {
        columns: ['measure', ...storms.map((r) => r.label)],
        rows: [
          ['first connect + sync of all clients', ...col((r) => `${r.initialConnectAndSyncSeconds} s`)],
          ['server: SIGTERM → exited', ...col((r) => `${r.serverExitSeconds} s`)],
          ['server: start → listening', ...col((r) => `${r.serverStartSeconds} s`)],
          ['all clients back and caught up, after SIGTERM', ...col((r) => (r.allBack ? `${r.allBackAfterKillSeconds} s` : 'no'))],
          ['… after the new process listened', ...col((r) => (r.allBack ? `${r.allBackAfterReadySeconds} s` : 'no'))],
          ['per client, after listening: p50 / p90 / p99 / max', ...col((r) => `${r.backAfterReadySeconds.p50} / ${r.backAfterReadySeconds.p90} / ${r.backAfterReadySeconds.p99} / ${r.backAfterReadySeconds.max} s`)],
          ['messages sent / acknowledged / sent again', ...col((r) => `${r.messagesSent} / ${r.messagesAcked} / ${r.resent}`)],
          ['lost: acknowledged but not stored', ...col((r) => `${r.ackedNotStored}`)],
          ['lost: stored but missing at a client at the end', ...col((r) => `${r.missingAtClients} (at ${r.clientsMissing} clients)`)],
          ['doubled: stored twice / shown twice', ...col((r) => `${r.doubledInDb} / ${r.doubledAtClients}`)],
          ['live deliveries of a message already held (de-duplicated)', ...col((r) => fmt.int(r.liveDuplicateDeliveries))],
          ['failed reconnect attempts (server down or busy)', ...col((r) => fmt.int(r.reconnectAttemptsFailed))],
          ['connection attempts dropped by a full listen queue (kernel)', ...col((r) => fmt.int(r.droppedSyns))],
          ['sync pages fetched (runs started by a gap)', ...col((r) => `${fmt.int(r.syncCalls)} (${fmt.int(r.gapSyncs)})`)],
        ],
      },
    ],
    checks,
    notes: [
      "Clients reconnect with full-jitter exponential backoff (random 0–1 s, then 0–2 s, 0–4 s …): with the SDK's 10 s cap, how long the server is down decides how far the clients have backed off. The second storm caps the backoff at 2 s to show the server's side alone.",
      "Caught up: the client's first `sync` after reconnecting completed and its cursor reached the conversation's last seq at the moment the old process exited.",
    ],
    ...(Object.keys(profiles).length ? { profiles } : {}),
    raw: storms,
  };
};
