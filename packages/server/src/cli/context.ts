import { pino } from 'pino';
import { memoryStreamRegistry } from '../ai/streams.ts';
import { createLocalBus } from '../bus/bus.ts';
import type { Config } from '../config.ts';
import type { Context } from '../context.ts';
import { createKeyring, loadSecrets } from '../crypto/keyring.ts';
import { createFiles } from '../files/service.ts';
import { createJobQueue } from '../jobs/queue.ts';
import { serverLogger } from '../logging.ts';
import { createPushSender } from '../push/sender.ts';
import { loadVapidKeys } from '../push/vapid.ts';
import { createRateLimits } from '../rateLimits.ts';
import { wireView } from '../realtime/fanout.ts';
import { openDatabase } from '../server.ts';
import { prepareDataDir } from '../storage/dataDir.ts';
import { migrate } from '../storage/migrations.ts';

/**
 * The operations' context for the `confab` command: the same configuration, database and keys as
 * the server (so what it writes is what the server reads), without HTTP, sockets or the assistant.
 * Sessions it ends are revoked in the database, and running nodes close their sockets by their
 * check of recent revocations (see operations/auth.ts endSessions). Jobs it queues (file deletion)
 * are worked by the server.
 */
export async function openCliContext(config: Config): Promise<{ ctx: Context; close: () => Promise<void> }> {
  // On standard error: standard output carries the command's answer.
  const log = serverLogger(config.logLevel, pino({ level: config.logLevel }, pino.destination(2)));
  prepareDataDir(config.dataDir, log);
  const db = await openDatabase(config);
  try {
    await migrate(db, (msg) => log.info(msg));
    const keys = createKeyring(loadSecrets(config.dataDir, config.secret, config.previousSecrets));
    const vapid = await loadVapidKeys(config.dataDir, config.vapidKeys);
    const push = createPushSender(vapid, config.push);
    const notHere = () => Promise.reject(new Error('the confab command does not run AI answers'));
    const ctx: Context = {
      config,
      db,
      keys,
      log,
      bus: createLocalBus(wireView),
      limits: createRateLimits(false),
      streams: memoryStreamRegistry(),
      answers: { stop: notHere, regenerate: notHere },
      files: createFiles(config.dataDir, keys, config.files),
      jobs: createJobQueue(db, log, config.jobs),
      push,
    };
    return {
      ctx,
      close: async () => {
        await push.close();
        await db.close();
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}
