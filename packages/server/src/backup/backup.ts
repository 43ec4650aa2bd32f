import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readdirSync } from 'node:fs';
import { cp, link, mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, constants as zlib } from 'node:zlib';
import tar from 'tar-stream';
import { tighten } from '../storage/dataDir.ts';
import type { Database } from '../storage/db.ts';
import { lockDirectory } from '../storage/dirLock.ts';
import { checkpointForCopy } from '../storage/transfer.ts';
import { MIGRATIONS } from '../storage/migrations.ts';

// `confab backup` / `confab restore` for the embedded database (docs/operations.md, "Back up and
// restore"). A backup is one gzipped tar:
//
//   confab-backup.json   first: what this is (format, version, schema version, what it holds)
//   db/…                 the embedded database's folder (DATA_DIR/db), as PostgreSQL left it after a checkpoint
//   files/…              the attachments (DATA_DIR/files), when they are stored there
//   secret.json, vapid.json   the keys from DATA_DIR, when they are kept there (not when set in the environment)
//   checksums.json       last: the SHA-256 and size of every entry above
//
// Why a copy of the folder, and why it is consistent: PGlite is one PostgreSQL session in one
// thread, so no statement runs while the backup holds it (db.exclusive). In that moment the backup
// runs CHECKPOINT (every change committed so far is written into the data files) and copies the
// folder: what is copied is the database exactly as of that moment, every committed transaction
// and nothing of one in flight (none can be: transactions wait for the moment to end). Attachment
// files are hard-linked in the same moment: a file is stored before the row that names it
// commits and deleted only after the row's deletion commits, so every file named by the copied
// rows is there, and a later deletion removes only the original name, not the link. Requests that
// reach the database meanwhile wait for it (none fails); the wait is the time to copy the
// folder, without the write-ahead log's spare segments (docs/operations.md has the figures). The copy is then packed and streamed at leisure.
// The alternative PGlite offers, dumpDataDir(), holds the database just as long and builds the
// whole archive in memory.

export const BACKUP_FORMAT = 'confab-backup';
export const BACKUP_VERSION = 1;
const MANIFEST = 'confab-backup.json';
const CHECKSUMS = 'checksums.json';
const KEY_FILES = ['secret.json', 'vapid.json'] as const;
/** A folder's line in checksums.json: listed, so that a missing one is noticed too. */
const FOLDER = { sha256: 'folder', size: 0 };
/** Not part of the database: the lock of whoever has it open, and PostgreSQL's own pid file. */
const NOT_COPIED = new Set(['confab.lock', 'postmaster.pid']);
const WAL_SEGMENT = /^[0-9A-F]{24}$/;

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  version: number;
  createdAt: string;
  /** The newest migration the database had: a restore into an older Confab is refused. */
  schemaVersion: number;
  database: 'embedded';
  /** 'local': attachments are in the backup; 's3': they stay in the bucket (back it up there). */
  files: 'local' | 's3';
  /** The key files the backup holds; a key set in the environment (CONFAB_SECRET…) is not in it. */
  keys: string[];
}

export interface BackupSummary {
  /** How long the database was held (checkpoint and copy), in milliseconds. */
  heldMs: number;
  entries: number;
  databaseBytes: number;
  fileCount: number;
  fileBytes: number;
  schemaVersion: number;
}

export interface BackupSource {
  db: Database;
  dataDir: string;
  /** Attachments are stored in DATA_DIR/files (else in S3, and not backed up here). */
  localFiles: boolean;
}

/** Folders made by backups that did not finish (their process died): removed by the next backup. */
async function removeLeftovers(dataDir: string, prefix: string): Promise<void> {
  for (const name of await readdir(dataDir).catch(() => [] as string[])) {
    if (name.startsWith(prefix)) await rm(path.join(dataDir, name), { recursive: true, force: true });
  }
}

/** Every folder and regular file below `dir`, as paths relative to it, each folder before what it holds, in a stable order. */
async function entriesBelow(dir: string, skip: (relative: string) => boolean = () => false): Promise<Array<{ rel: string; folder: boolean }>> {
  const found: Array<{ rel: string; folder: boolean }> = [];
  const walk = async (relative: string) => {
    const entries = await readdir(path.join(dir, relative), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const rel = relative ? `${relative}/${entry.name}` : entry.name;
      if (skip(rel)) continue;
      if (entry.isDirectory()) {
        // Empty folders count: PostgreSQL needs its own (pg_tblspc, pg_twophase…) to start.
        found.push({ rel, folder: true });
        await walk(rel);
      } else if (entry.isFile()) found.push({ rel, folder: false });
    }
  };
  await walk('');
  return found;
}

/**
 * Writes a backup of the embedded database (and the attachments and key files in DATA_DIR) to
 * `out`, consistent as of one moment (see the top of this file). The server calls it for
 * `confab backup` through its operator socket (backup/socket.ts); the command calls it itself when
 * no server runs.
 */
export async function writeBackup(source: BackupSource, out: Writable): Promise<BackupSummary> {
  const { db, dataDir } = source;
  if (!db.exclusive) throw new Error('confab backup is for the embedded database; with PostgreSQL use pg_dump (docs/operations.md)');
  await removeLeftovers(dataDir, '.backup-');
  const staging = await mkdtemp(path.join(dataDir, '.backup-'));
  try {
    const dbDir = path.join(dataDir, 'db');
    const filesDir = path.join(dataDir, 'files');
    let schemaVersion = 0;
    const started = Date.now();
    await db.exclusive(async (session) => {
      const moment = await checkpointForCopy(session);
      schemaVersion = moment.schemaVersion;
      // After the checkpoint PostgreSQL needs the WAL from its redo point on: one segment, as
      // nothing runs after it. The other segment files are old ones kept for reuse (16 MB each).
      const walDir = path.join(dbDir, 'pg_wal');
      const needed = (from: string) => {
        const name = path.basename(from);
        if (path.dirname(from) === dbDir) return !NOT_COPIED.has(name);
        if (path.dirname(from) === walDir && WAL_SEGMENT.test(name)) return name >= moment.redoWalFile && name <= moment.currentWalFile;
        return true;
      };
      await cp(dbDir, path.join(staging, 'db'), { recursive: true, filter: needed });
      if (source.localFiles) {
        for (const { rel, folder } of await entriesBelow(filesDir, (r) => r === '.tmp')) {
          const to = path.join(staging, 'files', rel);
          if (folder) await mkdir(to, { recursive: true, mode: 0o700 });
          else await link(path.join(filesDir, rel), to);
        }
      }
    });
    const heldMs = Date.now() - started;

    const keys = KEY_FILES.filter((name) => existsSync(path.join(dataDir, name)));
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      version: BACKUP_VERSION,
      createdAt: new Date(started).toISOString(),
      schemaVersion,
      database: 'embedded',
      files: source.localFiles ? 'local' : 's3',
      keys,
    };
    const pack = tar.pack();
    // Level 1: most of the database is encrypted text, which the fastest level compresses nearly as well.
    const written = pipeline(pack, createGzip({ level: zlib.Z_BEST_SPEED }), out);
    const checksums: Record<string, { sha256: string; size: number }> = {};
    const addBuffer = async (name: string, bytes: Buffer) => {
      await new Promise<void>((resolve, reject) => pack.entry({ name, size: bytes.length, mode: 0o600, mtime: new Date(started) }, bytes, (error) => (error ? reject(error) : resolve())));
    };
    const addFile = async (name: string, file: string) => {
      const { size } = await stat(file);
      const hash = createHash('sha256');
      let added!: (error?: Error | null) => void;
      const done = new Promise<void>((resolve, reject) => (added = (error) => (error ? reject(error) : resolve())));
      const entry = pack.entry({ name, size, mode: 0o600, mtime: new Date(started) }, (error) => added(error));
      // By hand rather than pipeline(): the entry is a streamx stream, not one of Node's.
      for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        if (!entry.write(chunk)) await once(entry, 'drain');
      }
      entry.end(() => {});
      await done;
      checksums[name] = { sha256: hash.digest('hex'), size };
      return size;
    };
    await addBuffer(MANIFEST, Buffer.from(JSON.stringify(manifest, null, 2)));
    const addFolder = async (name: string) => {
      checksums[name] = FOLDER;
      await new Promise<void>((resolve, reject) => pack.entry({ name, type: 'directory', mode: 0o700, mtime: new Date(started) }, (error) => (error ? reject(error) : resolve())));
    };
    let databaseBytes = 0;
    for (const { rel, folder } of await entriesBelow(path.join(staging, 'db'))) {
      if (folder) await addFolder(`db/${rel}`);
      else databaseBytes += await addFile(`db/${rel}`, path.join(staging, 'db', rel));
    }
    let fileCount = 0;
    let fileBytes = 0;
    for (const { rel, folder } of await entriesBelow(path.join(staging, 'files'))) {
      if (folder) await addFolder(`files/${rel}`);
      else {
        fileBytes += await addFile(`files/${rel}`, path.join(staging, 'files', rel));
        fileCount++;
      }
    }
    for (const name of keys) {
      const bytes = await readFile(path.join(dataDir, name));
      checksums[name] = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
      await addBuffer(name, bytes);
    }
    await addBuffer(CHECKSUMS, Buffer.from(JSON.stringify(checksums, null, 2)));
    pack.finalize();
    await written;
    return { heldMs, entries: Object.keys(checksums).length, databaseBytes, fileCount, fileBytes, schemaVersion };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export class RestoreError extends Error {
  override readonly name = 'RestoreError';
}

export interface RestoreSummary {
  manifest: BackupManifest;
  entries: number;
  fileCount: number;
}

/** What an entry may be called: one of ours, with no way out of the folder it is written to. */
function checkEntryName(name: string): void {
  const parts = name.split('/');
  const safe = parts.every((p) => p !== '' && p !== '.' && p !== '..' && !p.includes('\\') && !p.includes('\0'));
  const known = (parts[0] === 'db' || parts[0] === 'files') && parts.length > 1 ? true : parts.length === 1 && (KEY_FILES as readonly string[]).includes(name);
  if (!safe || !known) throw new RestoreError(`the backup holds an unexpected entry ${JSON.stringify(name)}: not a Confab backup, or damaged`);
}

/**
 * Restores a backup into DATA_DIR: refused unless DATA_DIR is empty (or absent), or `force` is
 * given (then its database, attachments and key files are replaced), and always while a process
 * has its database open. Everything is unpacked beside it first and checked against the backup's
 * checksums; only a backup that is whole replaces anything.
 */
export async function restoreBackup(file: string, dataDir: string, opts: { force?: boolean } = {}): Promise<RestoreSummary> {
  // Folders of a restore that did not finish (its process died) do not count: they are ours, and go.
  const existing = existsSync(dataDir) ? readdirSync(dataDir).filter((name) => !name.startsWith('.restore-')) : [];
  if (existing.length > 0 && !opts.force) {
    throw new RestoreError(`${dataDir} is not empty: restore into an empty DATA_DIR, or add --force to replace its database, files and keys`);
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // A server (or another command) with the database open keeps it, --force or not.
  const unlock = existsSync(path.join(dataDir, 'db')) ? lockDirectory(path.join(dataDir, 'db', 'confab.lock'), `the embedded database in ${path.join(dataDir, 'db')}`) : () => {};
  await removeLeftovers(dataDir, '.restore-');
  const staging = await mkdtemp(path.join(dataDir, '.restore-'));
  try {
    let manifest: BackupManifest | undefined;
    let checksums: Record<string, { sha256: string; size: number }> | undefined;
    const seen = new Map<string, { sha256: string; size: number }>();
    const extract = tar.extract();
    // A file that is not gzip, or cut short, fails here (and the loop below then ends early).
    let unreadable: RestoreError | undefined;
    const reading = pipeline(createReadStream(file), createGunzip(), extract).catch((error: Error) => {
      unreadable = new RestoreError(`${file} is not a Confab backup, or it is damaged (${error.message})`);
    });
    const readAll = async (entry: AsyncIterable<unknown>) => {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };
    try {
      for await (const entry of extract) {
        const { name, type } = entry.header;
        if (!manifest) {
          if (name !== MANIFEST) throw new RestoreError(`${file} is not a Confab backup (it does not start with ${MANIFEST})`);
          manifest = parseManifest(await readAll(entry));
          continue;
        }
        if (checksums) throw new RestoreError(`the backup goes on after ${CHECKSUMS}: damaged`);
        if (name === CHECKSUMS) {
          checksums = JSON.parse((await readAll(entry)).toString('utf8')) as Record<string, { sha256: string; size: number }>;
          continue;
        }
        checkEntryName(name.replace(/\/$/, ''));
        const to = path.join(staging, ...name.replace(/\/$/, '').split('/'));
        if (type === 'directory') {
          await mkdir(to, { recursive: true, mode: 0o700 });
          seen.set(name.replace(/\/$/, ''), FOLDER);
          entry.resume();
          continue;
        }
        if (type !== 'file') throw new RestoreError(`the backup holds an unexpected ${type} entry ${JSON.stringify(name)}`);
        await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
        const hash = createHash('sha256');
        let size = 0;
        const body = entry as AsyncIterable<Buffer>;
        await pipeline(
          Readable.from(
            (async function* () {
              for await (const chunk of body) {
                hash.update(chunk);
                size += chunk.length;
                yield chunk;
              }
            })(),
          ),
          createWriteStream(to, { mode: 0o600 }),
        );
        seen.set(name, { sha256: hash.digest('hex'), size });
      }
    } catch (error) {
      extract.destroy();
      await reading;
      // Our own verdict on what was read, else why reading stopped.
      throw error instanceof RestoreError ? error : (unreadable ?? error);
    }
    await reading;
    if (unreadable) throw unreadable;
    if (!manifest) throw new RestoreError(`${file} is empty: not a Confab backup`);
    if (!checksums) throw new RestoreError(`the backup ends before its ${CHECKSUMS}: it is cut short (was it copied whole?)`);
    for (const [name, expected] of Object.entries(checksums)) {
      const got = seen.get(name);
      if (!got) throw new RestoreError(`the backup lacks ${name}, which its checksums list: damaged`);
      if (got.sha256 !== expected.sha256 || got.size !== expected.size) throw new RestoreError(`${name} in the backup does not match its checksum: the backup is damaged`);
    }
    for (const name of seen.keys()) if (!(name in checksums)) throw new RestoreError(`${name} in the backup is not in its checksums: damaged`);
    if (!seen.has('db/PG_VERSION')) throw new RestoreError('the backup holds no database');

    // Whole and checked: now it replaces what was there (with --force) and moves in.
    for (const name of ['db', 'files', ...KEY_FILES]) {
      if (name === 'db' || existsSync(path.join(staging, name)) || opts.force) await rm(path.join(dataDir, name), { recursive: true, force: true });
      if (existsSync(path.join(staging, name))) await rename(path.join(staging, name), path.join(dataDir, name));
    }
    tighten(dataDir);
    return { manifest, entries: seen.size, fileCount: [...seen].filter(([n, c]) => n.startsWith('files/') && c !== FOLDER).length };
  } finally {
    await rm(staging, { recursive: true, force: true });
    unlock();
  }
}

function parseManifest(bytes: Buffer): BackupManifest {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as BackupManifest;
  } catch {
    throw new RestoreError(`its ${MANIFEST} is not JSON: not a Confab backup, or damaged`);
  }
  if (manifest.format !== BACKUP_FORMAT) throw new RestoreError('not a Confab backup');
  if (manifest.version !== BACKUP_VERSION) {
    throw new RestoreError(`this backup has format version ${manifest.version}; this Confab reads version ${BACKUP_VERSION}${manifest.version > BACKUP_VERSION ? ': restore it with the Confab that made it, or a newer one' : ''}`);
  }
  // The highest version, not the last in the list: versions are not always listed in order.
  const newest = Math.max(...MIGRATIONS.map((m) => m.version));
  if (!Number.isInteger(manifest.schemaVersion) || manifest.schemaVersion > newest) {
    throw new RestoreError(`this backup was made by a newer Confab (database schema ${manifest.schemaVersion}, this one knows up to ${newest}): upgrade Confab first`);
  }
  return manifest;
}
