import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { ConfabError } from '@confab/protocol';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import { buildWebhookBodies, checkWebhookUrl, onWebhooksChanged, signWebhook } from '../operations/webhooks.ts';
import {
  claimStream,
  findDueHeads,
  listEnabledWebhooks,
  recordFailure,
  recordSuccesses,
  releaseDeliveries,
  syncWebhookTriggers,
  type AttemptResult,
  type DeliveryRow,
  type WebhookRow,
} from '../storage/webhooks.ts';

export interface WebhookOptions {
  /** How often due deliveries are looked for (a change on this node also wakes the deliverer). */
  pollMs: number;
  /** One request's limit; a slower endpoint's attempt fails. */
  timeoutMs: number;
  /** Requests in flight on this node at most, and per webhook (one endpoint's backlog leaves room for the others). */
  concurrency: number;
  perWebhook: number;
  /** Waits before the 1st, 2nd… retry; the last one repeats. */
  backoffMs: number[];
  /** A delivery is retried this long after its event, then `failed`. */
  retryForMs: number;
  /** A webhook whose every delivery failed for this long is disabled. */
  disableAfterMs: number;
  /** How often the list of enabled webhooks (and the triggers' state) is read again. */
  refreshMs: number;
  /** Deliveries of one stream leased at once. */
  batch: number;
}

const MINUTE = 60_000;
export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = {
  pollMs: 250,
  timeoutMs: 10_000,
  concurrency: 16,
  perWebhook: 8,
  backoffMs: [10_000, MINUTE, 5 * MINUTE, 30 * MINUTE, 60 * MINUTE],
  retryForMs: 24 * 60 * MINUTE,
  disableAfterMs: 24 * 60 * MINUTE,
  refreshMs: 5_000,
  batch: 50,
};

export interface WebhookDeliverer {
  start(): void;
  stop(): Promise<void>;
  /** Resolves once nothing is being delivered on this node (tests). */
  idle(): Promise<void>;
}

/**
 * Sends webhook deliveries, off the request path. Every node runs one: it polls the heads of the
 * pending (webhook, conversation) streams, leases one (`FOR UPDATE SKIP LOCKED` and a lease of
 * timeout + 5 s, so nodes share the work and a dead node's delivery is taken over once its lease
 * runs out), and sends that stream's deliveries one after the other in their order (seq order
 * within a conversation) until one fails or none is due. At most `concurrency` streams at once,
 * `perWebhook` per endpoint.
 */
export function createWebhookDeliverer(ctx: Context, given: Partial<WebhookOptions> = {}): WebhookDeliverer {
  const opts = { ...DEFAULT_WEBHOOK_OPTIONS, ...given };
  const leaseMs = opts.timeoutMs + 5_000;
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: opts.perWebhook * 2 }), https: new https.Agent({ keepAlive: true, maxSockets: opts.perWebhook * 2 }) };
  let webhooks = new Map<string, WebhookRow>();
  let refreshedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let ticking: Promise<void> | undefined;
  let again = false;
  const running = new Map<string, Promise<void>>(); // stream key -> worker
  const perWebhook = new Map<string, number>();
  const requests = new Set<http.ClientRequest>();
  const unsubscribers: (() => void)[] = [];
  let dueAt = Infinity;

  async function refresh(): Promise<void> {
    webhooks = new Map((await listEnabledWebhooks(ctx.db)).map((w) => [w.id, w]));
    refreshedAt = Date.now();
    await syncWebhookTriggers(ctx.db);
  }

  /** The next poll in `delay` ms, unless one is due sooner already. */
  function schedule(delay: number): void {
    if (stopped || Date.now() + delay >= dueAt) return;
    clearTimeout(timer);
    dueAt = Date.now() + delay;
    timer = setTimeout(() => {
      dueAt = Infinity;
      void tick();
    }, delay);
    timer.unref();
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    if (ticking) {
      again = true;
      return ticking;
    }
    ticking = (async () => {
      await Promise.resolve(); // `ticking` is set before this body runs (and clears it)
      try {
        if (Date.now() - refreshedAt >= opts.refreshMs) await refresh();
        // With no webhook, nothing can be due: not even a query.
        if (webhooks.size === 0 || running.size >= opts.concurrency) return;
        const heads = await findDueHeads(ctx.db, opts.concurrency * 2, opts.perWebhook);
        for (const head of heads) {
          const key = `${head.webhook_id} ${head.stream}`;
          if (running.size >= opts.concurrency) break;
          if (running.has(key) || (perWebhook.get(head.webhook_id) ?? 0) >= opts.perWebhook) continue;
          startStream(key, head.webhook_id, head.stream);
        }
      } catch (error) {
        if (!stopped) ctx.log.warn({ err: error }, 'webhook deliverer: poll failed');
      } finally {
        ticking = undefined;
        if (again) {
          again = false;
          schedule(0);
        } else schedule(opts.pollMs);
      }
    })();
    return ticking;
  }

  function startStream(key: string, webhookId: string, stream: string): void {
    perWebhook.set(webhookId, (perWebhook.get(webhookId) ?? 0) + 1);
    const work = runStream(webhookId, stream)
      .catch((error: unknown) => {
        if (!stopped) ctx.log.warn({ err: error }, 'webhook deliverer: delivery failed');
      })
      .finally(() => {
        running.delete(key);
        perWebhook.set(webhookId, (perWebhook.get(webhookId) ?? 1) - 1);
        schedule(0);
      });
    running.set(key, work);
  }

  /**
   * Sends one stream's due deliveries in order, a leased batch at a time, until one fails (the
   * rest wait for its retry: order), none is due, or the lease would run out before another
   * attempt could end (the rest are given back).
   */
  async function runStream(webhookId: string, stream: string): Promise<void> {
    while (!stopped) {
      const claimedAt = Date.now();
      const batch = await claimStream(ctx.db, webhookId, stream, opts.batch, leaseMs);
      if (batch.length === 0) return;
      const webhook = webhooks.get(webhookId);
      if (!webhook) return releaseDeliveries(ctx.db, batch.map((d) => d.id));
      const bodies = await buildWebhookBodies(ctx, batch);
      const done: AttemptResult[] = [];
      let i = 0;
      try {
        for (; i < batch.length; i++) {
          if (stopped || Date.now() + opts.timeoutMs + 1_000 > claimedAt + leaseMs) break;
          const d = batch[i]!;
          const attempt = await attemptOnce(webhook, d, bodies.get(d.id)!);
          if (attempt === 'stopped') break;
          if (attempt.error === null) {
            done.push(attempt);
            // The delivery row was written with its event, in the same transaction.
            ctx.metrics?.webhookLagSeconds.observe((Date.now() - d.created_at.getTime()) / 1000);
            continue;
          }
          await recordSuccesses(ctx.db, webhookId, done.splice(0));
          const retryInMs = opts.backoffMs[Math.min(d.attempts, opts.backoffMs.length - 1)]!;
          const { disabled } = await recordFailure(ctx.db, webhookId, attempt, { retryInMs, retryForMs: opts.retryForMs, disableAfterMs: opts.disableAfterMs });
          if (disabled) {
            ctx.log.warn({ webhookId }, 'webhook disabled: every delivery failed for a day');
            await refresh();
          }
          await releaseDeliveries(
            ctx.db,
            batch.slice(i + 1).map((r) => r.id),
          );
          return;
        }
      } finally {
        await recordSuccesses(ctx.db, webhookId, done);
      }
      if (i < batch.length) {
        await releaseDeliveries(
          ctx.db,
          batch.slice(i).map((r) => r.id),
        );
        return;
      }
    }
  }

  /** One attempt; 'stopped' when cut short by this node stopping (not the endpoint's failure). */
  async function attemptOnce(webhook: WebhookRow, d: DeliveryRow, body: string): Promise<AttemptResult | 'stopped'> {
    const started = Date.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      statusCode = await post(webhook, d.event_id, body);
      if (statusCode < 200 || statusCode >= 300) error = `the endpoint answered ${statusCode}`;
    } catch (e) {
      if (stopped) return 'stopped';
      error = e instanceof ConfabError ? e.message : e instanceof Error ? e.message : String(e);
    }
    return { deliveryId: d.id, attemptId: newId(), body, statusCode, error: error?.slice(0, 500) ?? null, durationMs: Date.now() - started };
  }

  /** The POST, to the address checked now (DNS may have changed since the webhook was made). */
  async function post(webhook: WebhookRow, eventId: string, body: string): Promise<number> {
    const { url, address } = await checkWebhookUrl(ctx, webhook.url);
    const secure = url.protocol === 'https:';
    const lookup: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [address]);
      else callback(null, address.address, address.family);
    };
    const signature = signWebhook(ctx.keys.decrypt(webhook.secret_enc), Math.floor(Date.now() / 1000), body);
    return new Promise<number>((resolve, reject) => {
      const request = (secure ? https : http).request(
        {
          method: 'POST',
          protocol: url.protocol,
          hostname: url.hostname.replace(/^\[|\]$/g, ''),
          port: url.port || (secure ? 443 : 80),
          path: url.pathname + url.search,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'Confab-Webhooks/1',
            'confab-event-id': eventId,
            'confab-signature': signature,
          },
          agent: secure ? agents.https : agents.http,
          lookup,
        },
        (response) => {
          response.resume(); // the answer's body is not read
          response.on('end', () => resolve(response.statusCode ?? 0));
          response.on('error', reject);
        },
      );
      requests.add(request);
      request.on('close', () => requests.delete(request));
      request.setTimeout(opts.timeoutMs, () => request.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
      request.on('error', reject);
      request.end(body);
    });
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      onWebhooksChanged(ctx, () => {
        refreshedAt = 0;
        schedule(0);
      });
      // A send stored here wakes the deliverer at once (its delivery row committed with it).
      const wake = () => {
        if (webhooks.size > 0) schedule(5);
      };
      unsubscribers.push(ctx.bus.subscribe('message_stored', wake), ctx.bus.subscribe('message_changed', wake));
      schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      for (const r of requests) r.destroy(new Error('the server is stopping'));
      for (const u of unsubscribers.splice(0)) u();
      await ticking;
      await Promise.allSettled([...running.values()]);
      agents.http.destroy();
      agents.https.destroy();
    },
    async idle() {
      while (ticking || running.size > 0) {
        await ticking;
        await Promise.allSettled([...running.values()]);
      }
    },
  };
}

