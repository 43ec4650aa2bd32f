import { loadConfig, type Config } from './config.ts';
import { createServer } from './server.ts';

/** `npm start`: run migrations, serve, and stop gracefully on SIGTERM/SIGINT. */
let logError: (error: unknown, msg: string) => void = (error, msg) => console.error(msg, error);
// Last resort: Node ends the process on a rejection nobody handled, dropping every client of the
// node. Each source is handled where it arises; one that slips through is logged as the bug it is.
process.on('unhandledRejection', (reason) => logError(reason, 'unhandled promise rejection'));

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  // A bad setting: the message names the variable; a stack trace would only bury it.
  console.error(`Confab cannot start: ${(error as Error).message}`);
  process.exit(1);
}
const server = await createServer(config, { defaultMetrics: true });
logError = (error, msg) => server.ctx.log.error({ err: error }, msg);
server.ctx.log.info({ database: server.ctx.db.kind, dataDir: config.dataDir }, 'Confab is ready');
console.log(`Confab listening on ${server.url}`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    server.ctx.log.info({ signal }, 'shutting down');
    // A hard deadline so a stuck connection cannot keep the process alive forever.
    const deadline = setTimeout(() => process.exit(1), 15_000);
    deadline.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.ctx.log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  });
}
