import path from 'node:path';
import { pino, type Logger } from 'pino';
import { createLocalBus } from './bus/bus.ts';
import { loadConfig, type Config } from './config.ts';
import type { Context } from './context.ts';
import { createKeyring, loadSecrets } from './crypto/keyring.ts';
import { buildHttpApp, type App } from './http/app.ts';
import { createMetrics } from './metrics.ts';
import { createRateLimits } from './rateLimits.ts';
import { openEmbedded, openPostgres, type Database } from './storage/db.ts';
import { migrate } from './storage/migrations.ts';

export interface ConfabServer {
  app: App;
  ctx: Context;
  /** The URL the server listens on, e.g. http://127.0.0.1:3000 */
  url: string;
  /** Graceful stop: stop accepting, finish in-flight requests, close the database. */
  close(): Promise<void>;
}

export interface ServerOptions {
  logger?: Logger;
  /** Collect process-wide default metrics (off in tests, which start many servers per process). */
  defaultMetrics?: boolean;
}

export async function openDatabase(config: Config): Promise<Database> {
  return config.databaseUrl ? openPostgres(config.databaseUrl) : openEmbedded(path.join(config.dataDir, 'db'));
}

/** The composition root: wires config, storage, bus and transports. Tests start it on port 0. */
export async function createServer(config: Config = loadConfig(), options: ServerOptions = {}): Promise<ConfabServer> {
  const log =
    options.logger ??
    pino({ level: config.logLevel, redact: { paths: ['req.headers.authorization', '*.password', '*.refreshToken', '*.accessToken', '*.apiKey'], censor: '[redacted]' } });
  const db = await openDatabase(config);
  try {
    const applied = await migrate(db, (msg) => log.info(msg));
    if (applied) log.info({ applied }, 'database migrated');
  } catch (error) {
    await db.close();
    throw error;
  }
  const keys = createKeyring(loadSecrets(config.dataDir, config.secret, config.previousSecrets));
  const ctx: Context = { config, db, keys, log, bus: createLocalBus(), limits: createRateLimits(config.rateLimits) };
  const metrics = createMetrics(options.defaultMetrics ?? false);
  const app = await buildHttpApp(ctx, metrics);
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  let closing: Promise<void> | undefined;
  return {
    app,
    ctx,
    url: `http://${shownHost}:${port}`,
    close() {
      closing ??= (async () => {
        await app.close();
        await db.close();
      })();
      return closing;
    },
  };
}
