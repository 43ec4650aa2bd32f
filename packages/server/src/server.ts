import path from 'node:path';
import type { Logger } from 'pino';
import { memoryStreamRegistry, redisStreamRegistry } from './ai/streams.ts';
import { AiRunner } from './assistant/runner.ts';
import { startOperatorSocket } from './backup/socket.ts';
import { createLocalBus } from './bus/bus.ts';
import { wireView } from './realtime/fanout.ts';
import { loadConfig, type Config } from './config.ts';
import type { Context } from './context.ts';
import { createKeyring, loadSecrets } from './crypto/keyring.ts';
import type { FilesOptions } from './files/options.ts';
import { createFiles } from './files/service.ts';
import { buildHttpApp, type App } from './http/app.ts';
import { serverLogger } from './logging.ts';
import { createJobQueue, type JobQueueOptions } from './jobs/queue.ts';
import { createMetrics } from './metrics.ts';
import { readBacklog } from './storage/health.ts';
import { registerAttachmentJobs } from './operations/attachments.ts';
import { registerRetentionJobs } from './operations/retention.ts';
import { registerSearchJobs, scheduleReindex } from './operations/search.ts';
import { registerNotificationJobs, startNotifications } from './operations/notifications.ts';
import { startLinkPreviews, type LinkPreviewRunner } from './operations/previews.ts';
import type { PreviewOptions } from './previews/options.ts';
import { createPushSender, type PushOptions } from './push/sender.ts';
import { loadVapidKeys } from './push/vapid.ts';
import { createRateLimits } from './rateLimits.ts';
import { attachGateway, presenceStoreFor, type Gateway, type GatewayOptions } from './realtime/gateway.ts';
import { connectRedis, redisLimiterFactory, type RedisClients } from './redis/redis.ts';
import { prepareDataDir, tighten } from './storage/dataDir.ts';
import { openEmbedded, openPostgres, type Database } from './storage/db.ts';
import { migrate } from './storage/migrations.ts';
import { createMailer } from './mail/mailer.ts';
import { createWebhookDeliverer, type WebhookOptions } from './webhooks/deliverer.ts';

const LISTEN_BACKLOG = 4096;

export interface ConfabServer {
  app: App;
  ctx: Context;
  /** The URL the server listens on, e.g. http://127.0.0.1:3000 */
  url: string;
  /** Socket.IO (realtime half of the contract). */
  gateway: Gateway;
  /** The AI assistant (its counters are read by tests and metrics). */
  assistant: AiRunner;
  /** Link previews being fetched (tests wait for them with `idle()`). */
  previews: LinkPreviewRunner;
  /** Graceful stop: stop accepting, finish in-flight requests, close the database. */
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Where to log (tests pass one writing to a buffer); the server's serializers and redactions apply to it too. */
  logger?: Logger;
  /** Collect process-wide default metrics (off in tests, which start many servers per process). */
  defaultMetrics?: boolean;
  /**
   * Prefix of every Redis key and channel (several deployments or test runs can share one Redis).
   * Over config.redisPrefix (CONFAB_REDIS_PREFIX).
   */
  redisPrefix?: string;
  /** Realtime tuning (sweep periods, slow-consumer caps); tests shorten them. */
  realtime?: Partial<GatewayOptions>;
  /** File limits and storage, over config.files (tests lower the limits). */
  files?: Partial<FilesOptions>;
  /** Job queue tuning, over config.jobs (tests poll and retry fast). */
  jobs?: Partial<JobQueueOptions>;
  /** Web push, over config.push (tests allow a plain-HTTP push service on loopback). */
  push?: Partial<PushOptions>;
  /**
   * Link previews, over config.previews. Tests reach only loopback: they give a resolver that maps
   * test host names to loopback addresses and an address check that counts one of those as public,
   * so that "a public site redirecting to a private address" can be shown on one machine.
   */
  previews?: Partial<PreviewOptions>;
  /** Outgoing webhook delivery (tests poll often and retry after milliseconds). */
  webhooks?: Partial<WebhookOptions>;
}

/** `log` hears of a pooler that refuses named prepared statements (see openPostgres). */
export async function openDatabase(config: Config, log?: { warn(obj: object, msg: string): void }): Promise<Database> {
  if (config.databaseUrl) {
    return openPostgres(config.databaseUrl, {
      poolSize: config.databasePoolSize,
      preparedStatements: config.databasePreparedStatements,
      onPreparedStatementsOff: (error) =>
        log?.warn(
          { code: (error as { code?: string }).code },
          'the database connection refused a named prepared statement (a pooler in transaction mode?): prepared statements are off from now on; set CONFAB_DATABASE_PREPARED_STATEMENTS=off to skip this',
        ),
    });
  }
  const dir = path.join(config.dataDir, 'db');
  const db = await openEmbedded(dir);
  tighten(dir);
  return db;
}

/** The composition root: wires config, storage, bus and transports. Tests start it on port 0. */
export async function createServer(given: Config = loadConfig(), options: ServerOptions = {}): Promise<ConfabServer> {
  // The options' overrides land in the config, so ctx.config says what this server runs with.
  const config: Config = {
    ...given,
    redisPrefix: options.redisPrefix ?? given.redisPrefix,
    files: { ...given.files, ...options.files },
    jobs: { ...given.jobs, ...options.jobs },
    push: { ...given.push, ...options.push },
    previews: { ...given.previews, ...options.previews },
  };
  // Requests by route, errors without the values they carry, secrets redacted: see logging.ts.
  const log = serverLogger(config.logLevel, options.logger);
  // Before anything is written there: the secret, the VAPID key, the database, attachments.
  prepareDataDir(config.dataDir, log);
  const vapid = await loadVapidKeys(config.dataDir, config.vapidKeys);
  const db = await openDatabase(config, log);
  try {
    const applied = await migrate(db, (msg) => log.info(msg));
    if (applied) log.info({ applied }, 'database migrated');
  } catch (error) {
    await db.close();
    throw error;
  }
  const keys = createKeyring(loadSecrets(config.dataDir, config.secret, config.previousSecrets));
  let redis: RedisClients | undefined;
  if (config.redisUrl) {
    try {
      redis = await connectRedis(config.redisUrl, config.redisPrefix, log);
    } catch (error) {
      await db.close();
      throw error;
    }
  }
  // With Redis, rate limits are shared by all nodes.
  const limits = createRateLimits(config.rateLimits, redis ? redisLimiterFactory(redis) : undefined, {
    limits: {
      uploadsPerUser: { points: config.files.uploadsPerHour, duration: 60 * 60 },
      uploadBytesPerUser: { points: config.files.uploadBytesPerDay, duration: 24 * 60 * 60 },
    },
  });
  const streams = redis ? redisStreamRegistry(redis) : memoryStreamRegistry();
  const files = createFiles(config.dataDir, keys, config.files);
  const jobs = createJobQueue(db, log, config.jobs);
  const push = createPushSender(vapid, config.push);
  // "Is this user connected?" for notifications: the gateway's presence, across nodes.
  const presence = presenceStoreFor(redis, options.realtime);
  // Realtime's wire view, for the bus's catch-all subscribers (tests, diagnostics).
  const bus = createLocalBus(wireView);
  const metrics = createMetrics(options.defaultMetrics ?? false);
  // The assistant serves stop and regenerate (ctx.answers) for operations/ai.ts; it gets the
  // context, and subscribes to the bus, in start().
  const ai = new AiRunner(streams, { redis, metrics });
  const mail = config.smtp ? createMailer(config.smtp, log) : undefined;
  const ctx: Context = { config, db, keys, log, bus, limits, streams, answers: ai, files, jobs, push, presence, metrics, ...(mail ? { mail } : {}) };
  metrics.sources.backlog = () => readBacklog(db);
  registerAttachmentJobs(ctx);
  registerNotificationJobs(ctx);
  registerSearchJobs(ctx);
  registerRetentionJobs(ctx);
  const webhooks = createWebhookDeliverer(ctx, options.webhooks);

  // Start and stop in one order: each part is stopped, in reverse, after those started after it.
  // Stopping, answers in flight end first (their final state is broadcast while sockets are open),
  // then sockets (their cleanup, presence and last_seen_at, still needs Redis and the database),
  // then HTTP, then notifications being worked out and jobs in hand (while the database is open).
  const stops: (() => unknown)[] = [() => db.close(), () => redis?.close(), () => push.close(), () => mail?.close(), () => jobs.stop(), () => webhooks.stop()];
  const stopAll = async () => {
    while (stops.length > 0) await stops.pop()!();
  };
  let app: App;
  let gateway: Gateway;
  let previews: LinkPreviewRunner;
  try {
    // Subscribed before anything can store a message.
    const notifications = startNotifications(ctx);
    stops.push(() => notifications.stop());
    const linkPreviews = startLinkPreviews(ctx);
    previews = linkPreviews;
    ctx.previews = linkPreviews;
    stops.push(() => linkPreviews.stop());
    app = await buildHttpApp(ctx, metrics, redis ? () => redis.ready() : undefined);
    stops.push(() => app.close());
    // Attached before listening, so no upgrade request can arrive without its handler.
    const attached = attachGateway({ ctx, metrics, httpServer: app.server, redis, options: options.realtime, presenceStore: presence });
    gateway = attached;
    stops.push(() => attached.close());
    // Closes answers a crash left streaming before anyone can see them as live.
    stops.push(() => ai.close());
    await ai.start(ctx);
    // A deep accept queue: after a restart thousands of clients reconnect within a second or two.
    // With Node's default (511) the kernel drops the SYNs that overflow it, and a dropped SYN is
    // retried after 1, 3, 7, 15 s…, so a few clients come back tens of seconds late. The kernel caps
    // it at net.core.somaxconn (4096 on current kernels).
    await app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
    // `confab backup` of the embedded database, which this process holds (backup/socket.ts).
    if (db.kind === 'embedded') {
      const operator = await startOperatorSocket({ db, dataDir: config.dataDir, localFiles: !config.files.s3 }, log);
      stops.push(() => operator?.close());
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  // Web push, file deletion, text extraction, re-indexing search: polled from the database, off the request path.
  await scheduleReindex(ctx).catch((error: unknown) => log.warn({ err: error }, 'could not schedule the search re-index'));
  jobs.start();
  webhooks.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  let closing: Promise<void> | undefined;
  return {
    app,
    ctx,
    url: `http://${shownHost}:${port}`,
    gateway,
    assistant: ai,
    previews,
    close() {
      closing ??= (async () => {
        // Stop accepting at once: a client reconnecting now is refused and retries soon (the SDK
        // retries a refused connection within 2 s), instead of being let into a process that is
        // about to reset it. Requests and sockets already open carry on until closed below.
        app.server.close();
        await stopAll();
      })();
      return closing;
    },
  };
}
