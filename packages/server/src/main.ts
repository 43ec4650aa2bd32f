import { loadConfig } from './config.ts';
import { createServer } from './server.ts';

/** `npm start`: run migrations, serve, and stop gracefully on SIGTERM/SIGINT. */
const config = loadConfig();
const server = await createServer(config, { defaultMetrics: true });
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
