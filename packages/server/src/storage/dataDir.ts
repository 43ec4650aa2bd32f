import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { Logger } from 'pino';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
/** Bits no one but the owner may hold on anything under DATA_DIR. */
const PRIVATE = 0o077;

/**
 * DATA_DIR holds the master secret, the VAPID key, the embedded database and attachments: only the
 * user running Confab may read or write any of it, whatever the umask it was started with.
 *
 * - The process umask gains 077. PGlite (Emscripten's NODEFS) creates its files 0666 and folders
 *   0777 and leaves the rest to the umask, in a worker thread that cannot set one; the umask is the
 *   one place that covers every file it will ever create. Our own files pass explicit modes too.
 * - DATA_DIR itself is made (or made again) 0700.
 * - The embedded database's folder is tightened after it opened (see tighten).
 * - A DATA_DIR that was not 0700 was made by an older version or by hand: everything below it is
 *   tightened once (folders 0700, files 0600). A 0700 DATA_DIR is not walked again: nothing in it
 *   can be reached by anyone else, and a large attachment tree would slow every start.
 */
export function prepareDataDir(dataDir: string, log?: Logger): void {
  // process.umask(mask) throws in a worker thread (an embedder's); explicit modes still apply there.
  if (isMainThread) process.umask(process.umask() | PRIVATE);
  mkdirSync(dataDir, { recursive: true, mode: DIR_MODE });
  const mode = lstatSync(dataDir).mode & 0o777;
  if (mode === DIR_MODE) return;
  try {
    chmodSync(dataDir, DIR_MODE);
    tighten(dataDir);
  } catch (error) {
    // Not ours to change (e.g. a volume owned by another user): say so rather than refuse to start.
    log?.warn({ dataDir, code: (error as NodeJS.ErrnoException).code }, 'could not make DATA_DIR private (0700, files 0600)');
  }
}

/**
 * Folders 0700 and files 0600 below `dir`. PGlite unpacks a new database from an archive and sets
 * each file's mode from it (0666) explicitly, which no umask can prevent: the server tightens the
 * database folder once it has opened it.
 */
export function tighten(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    // Symbolic links are left alone: their target is not necessarily ours.
    if (entry.isDirectory()) {
      if ((lstatSync(full).mode & 0o777) !== DIR_MODE) chmodSync(full, DIR_MODE);
      tighten(full);
    } else if (entry.isFile() && (lstatSync(full).mode & PRIVATE) !== 0) {
      chmodSync(full, FILE_MODE);
    }
  }
}
