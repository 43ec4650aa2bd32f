import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, constants as zlib } from 'node:zlib';
import type { Command } from 'commander';
import { restoreBackup, writeBackup, type BackupSummary } from '../backup/backup.ts';
import { createProgress } from '../backup/progress.ts';
import { requestBackup } from '../backup/socket.ts';
import { exportInstance, importInstance, type TransferSummary } from '../backup/transfer.ts';
import { loadCommandLineConfig } from '../config.ts';
import { openEmbedded } from '../storage/db.ts';
import { openCliContext } from './context.ts';

// `confab backup`, `restore`, `export` and `import` (docs/operations.md): backup/ does the work,
// this file speaks to the operator.

const OPERATIONS_DOC = 'docs/operations.md';
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/**
 * The process's peak resident memory so far, all its threads (the embedded database's too). On
 * Linux from /proc (VmHWM, this program's own): getrusage's maxRSS survives exec, so a command
 * started by a large process (a test runner) would report its parent's size.
 */
function peakMemory(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Writes to `file` through `<file>.partial`, renamed once complete: a file of that name is always whole. */
async function writeWhole<T>(file: string, work: (out: Writable) => Promise<T>): Promise<T> {
  const partial = `${file}.partial`;
  const out = createWriteStream(partial, { mode: 0o600 });
  // Kept, and told after: an error event nobody listens to would end the process before the cause is told.
  let writeError: Error | undefined;
  out.on('error', (error) => (writeError ??= error));
  await once(out, 'open');
  try {
    const result = await work(out);
    if (writeError) throw writeError;
    if (!out.writableFinished) await once(out, 'finish');
    // On disk before it takes the name (a crash right after leaves the old file, not half of the new).
    const handle = await open(partial, 'r');
    await handle.sync();
    await handle.close();
    await rename(partial, file);
    return result;
  } catch (error) {
    out.destroy();
    await rm(partial, { force: true });
    throw error;
  }
}

export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .summary('back up the embedded database, attachments and keys, while the server runs or not')
    .description(
      'write a backup of the embedded database, its attachments and keys (DATA_DIR) to <file>, consistent as of one moment. ' +
        'While the server runs it takes the backup (requests wait for the moment it copies the database); otherwise this command does. ' +
        `With PostgreSQL, use pg_dump: see ${OPERATIONS_DOC}.`,
    )
    .argument('<file>', 'where to write it (a gzipped tar; written as <file>.partial, then renamed)')
    .action(async (file: string) => {
      const config = loadCommandLineConfig();
      if (config.databaseUrl) throw new Error(`DATABASE_URL is set: back up PostgreSQL with pg_dump and a copy of the files, as ${OPERATIONS_DOC} ("Back up and restore") says`);
      if (!existsSync(path.join(config.dataDir, 'db'))) throw new Error(`there is no embedded database in ${config.dataDir} (DATA_DIR)`);
      const started = Date.now();
      let byServer = true;
      const summary = await writeWhole(file, async (out): Promise<BackupSummary> => {
        const fromServer = await requestBackup(config.dataDir, out);
        if (fromServer) return fromServer;
        // No server running: the database is this command's to open (and lock) for the backup.
        byServer = false;
        const db = await openEmbedded(path.join(config.dataDir, 'db'));
        try {
          return await writeBackup({ db, dataDir: config.dataDir, localFiles: !config.files.s3 }, out);
        } finally {
          await db.close();
        }
      });
      console.log(
        `backup written to ${file}: ${mb(statSync(file).size)} (database ${mb(summary.databaseBytes)}, ${summary.fileCount} attachment files ${mb(summary.fileBytes)}) ` +
          `in ${seconds(Date.now() - started)}; ${byServer ? 'taken by the running server, which held its database' : 'the database was held'} for ${summary.heldMs} ms`,
      );
      if (config.files.s3) console.log('attachments are in S3 and not in this backup: back the bucket up with its own means (versioning, replication)');
    });

  program
    .command('restore')
    .summary('restore a backup into an empty DATA_DIR')
    .description(`restore a backup made by \`confab backup\` into DATA_DIR, which must be empty (or absent). The server must be stopped. With PostgreSQL, use pg_restore: see ${OPERATIONS_DOC}.`)
    .argument('<file>', 'the backup')
    .option('--force', "replace the database, attachments and keys of a DATA_DIR that is not empty (still refused while a server has it open)")
    .action(async (file: string, opts: { force?: boolean }) => {
      const config = loadCommandLineConfig();
      if (config.databaseUrl) throw new Error(`DATABASE_URL is set: restore PostgreSQL with pg_restore, as ${OPERATIONS_DOC} ("Back up and restore") says`);
      if (!existsSync(file)) throw new Error(`${file} does not exist`);
      const started = Date.now();
      const { manifest, fileCount } = await restoreBackup(file, config.dataDir, { force: opts.force === true });
      console.log(`restored ${file} (taken ${manifest.createdAt}) into ${config.dataDir}: the database and ${fileCount} attachment files, checked against their checksums, in ${seconds(Date.now() - started)}`);
      if (!manifest.keys.includes('secret.json')) console.log('the backup holds no secret.json: start the server with the CONFAB_SECRET (and CONFAB_PREVIOUS_SECRETS) of the server that made it');
      if (manifest.files === 's3') console.log('its attachments were in S3: point CONFAB_S3_* at that bucket again');
    });

  program
    .command('export')
    .summary('write the whole instance to a file (JSON lines), to move it to another database')
    .description(
      'write the whole instance (users, conversations, members, messages in plaintext, reactions, receipts, attachments…) to <file> as JSON lines, ' +
        `to import it into another instance (another database). The file holds everything in clear: keep it private. Stop the server when it uses the embedded database. See ${OPERATIONS_DOC}.`,
    )
    .argument('<file>', 'where to write it; gzipped when it ends in .gz')
    .action(async (file: string) => {
      const config = loadCommandLineConfig();
      const { ctx, close } = await openCliContext(config);
      const rssAtStart = process.memoryUsage().rss;
      try {
        const opts = { progress: (total: number) => createProgress('export', total), warn: (message: string) => console.error(`confab: ${message}`) };
        const summary = await writeWhole(file, async (out) => {
          if (!file.endsWith('.gz')) return exportInstance(ctx, out, opts);
          const gzip = createGzip({ level: zlib.Z_BEST_SPEED });
          const piped = pipeline(gzip, out);
          // Handled here at once: a failed export destroys the file, and its error is the one to tell.
          piped.catch(() => {});
          try {
            const result = await exportInstance(ctx, gzip, opts);
            await piped;
            return result;
          } catch (error) {
            gzip.destroy();
            throw error;
          }
        });
        console.log(report('exported', file, summary, rssAtStart));
        if (summary.missingFiles > 0) console.log(`${summary.missingFiles} attachment files were missing from the file store and are not in the export`);
      } finally {
        await close();
      }
    });

  program
    .command('import')
    .summary('read an export into a new, empty instance')
    .description(`read an export made by \`confab export\` into this instance, which must be new and empty; everything is encrypted with this instance's keys. See ${OPERATIONS_DOC}.`)
    .argument('<file>', 'the export (gzipped or not)')
    .action(async (file: string) => {
      if (!existsSync(file)) throw new Error(`${file} does not exist`);
      const config = loadCommandLineConfig();
      const { ctx, close } = await openCliContext(config);
      const rssAtStart = process.memoryUsage().rss;
      try {
        const summary = await importInstance(ctx, await openMaybeGzipped(file), { progress: (total) => createProgress('import', total) });
        console.log(report('imported', file, summary, rssAtStart));
      } finally {
        await close();
      }
    });
}

function report(verb: string, file: string, s: TransferSummary, rssAtStart: number): string {
  const rows = Object.values(s.tables).reduce((a, b) => a + b, 0);
  const rate = s.ms > 0 ? Math.round((s.messages / s.ms) * 1000) : 0;
  return `${verb} ${file}: ${rows} rows in ${Object.keys(s.tables).length} tables, ${s.messages} messages, ${s.files} files (${mb(s.fileBytes)}) in ${seconds(s.ms)} (${rate} messages/s); peak memory ${mb(peakMemory())} (${mb(rssAtStart)} once the database was open)`;
}

async function openMaybeGzipped(file: string): Promise<Readable> {
  const handle = await open(file, 'r');
  const magic = Buffer.alloc(2);
  await handle.read(magic, 0, 2, 0);
  await handle.close();
  const input = createReadStream(file);
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) return input;
  const gunzip = createGunzip();
  pipeline(input, gunzip).catch((error: Error) => gunzip.destroy(error));
  return gunzip;
}
