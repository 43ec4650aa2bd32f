import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { writeBackup, type BackupSource, type BackupSummary } from './backup.ts';

// The operator socket: while a server has the embedded database open (and locked, storage/
// dirLock.ts), the `confab` command cannot open it, so `confab backup` asks the server for the
// backup here. A Unix socket in DATA_DIR, which only the user running Confab can enter (0700,
// storage/dataDir.ts): whoever can reach it could read DATA_DIR itself, so it asks for nothing
// more. It is not on the network, and serves one thing: POST /backup, the archive as the body, its
// summary in a trailer. Only with the embedded database: with PostgreSQL, pg_dump takes the backup.

const SUMMARY_TRAILER = 'x-confab-backup';

export const operatorSocketPath = (dataDir: string) => path.join(dataDir, 'confab.sock');

export interface OperatorSocket {
  close(): Promise<void>;
}

export async function startOperatorSocket(source: BackupSource, log: Logger): Promise<OperatorSocket | undefined> {
  const socketPath = operatorSocketPath(source.dataDir);
  let running = false;
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/backup') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('unknown request\n');
      return;
    }
    if (running) {
      res.writeHead(409, { 'content-type': 'text/plain' }).end('a backup is already being taken\n');
      return;
    }
    running = true;
    res.writeHead(200, { 'content-type': 'application/gzip', trailer: SUMMARY_TRAILER });
    log.info('backup started (confab backup)');
    writeBackup(source, new TrailerWriter(res))
      .then((summary) => {
        res.addTrailers({ [SUMMARY_TRAILER]: JSON.stringify(summary) });
        res.end();
        log.info({ heldMs: summary.heldMs, databaseBytes: summary.databaseBytes, files: summary.fileCount }, 'backup taken');
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'backup failed');
        // Cut short: the command sees the connection end without the summary and says so.
        res.destroy();
      })
      .finally(() => (running = false));
  });
  // The database lock says no other server has this DATA_DIR: a socket file there is a dead one's.
  rmSync(socketPath, { force: true });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    // Like every file in DATA_DIR (storage/dataDir.ts); connecting needs only the owner's write bit.
    chmodSync(socketPath, 0o600);
  } catch (error) {
    // e.g. a DATA_DIR path longer than a socket path may be (about 100 bytes): the server runs, backups need it stopped.
    log.warn({ err: error, socketPath }, 'no operator socket: `confab backup` needs the server stopped');
    return undefined;
  }
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        rmSync(socketPath, { force: true });
      }),
  };
}

/**
 * The response as the archive's destination, minus its end: the pipeline in writeBackup ends what
 * it writes to, and the trailer has to go out before the response ends.
 */
class TrailerWriter extends Writable {
  constructor(private readonly res: http.ServerResponse) {
    super();
    res.on('close', () => {
      if (!res.writableFinished) this.destroy(new Error('the command went away'));
    });
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.res.write(chunk)) callback();
    else this.res.once('drain', () => callback());
  }
  override _final(callback: () => void): void {
    callback();
  }
}

/**
 * For `confab backup`: asks the server running on DATA_DIR for a backup and writes it to `out`.
 * Resolves to undefined when no server listens there (then the command takes it itself).
 */
export function requestBackup(dataDir: string, out: Writable): Promise<BackupSummary | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: operatorSocketPath(dataDir), method: 'POST', path: '/backup' });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') resolve(undefined);
      else reject(error);
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => reject(new Error(`the server refused: ${text.trim() || res.statusCode}`)));
        return;
      }
      pipeline(res, out).then(
        () => {
          const summary = res.trailers[SUMMARY_TRAILER];
          if (!summary) reject(new Error('the server stopped sending the backup before its end (see its log)'));
          else resolve(JSON.parse(summary) as BackupSummary);
        },
        () => reject(new Error('the server stopped sending the backup before its end (see its log)')),
      );
    });
    req.end();
  });
}
