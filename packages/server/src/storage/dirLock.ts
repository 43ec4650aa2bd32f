import { readFileSync, rmSync, writeFileSync } from 'node:fs';

// The embedded database is one PostgreSQL in a directory: two processes writing it at once would
// corrupt it (PGlite itself takes no lock). So whoever opens it (the server, the `confab` command)
// first writes its process id into a lock file there. Hand-written rather than a lockfile library:
// on one machine the process id says exactly whether the holder still runs, where lockfile
// libraries guess from a file's age.

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock file at `file` for this process, or throws saying which process holds it. Returns its release. */
export function lockDirectory(file: string, what: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
    if (Number.isInteger(holder) && holder > 0 && isRunning(holder)) {
      throw new Error(`${what} is in use by process ${holder}${holder === process.pid ? ' (this one)' : ''}: stop it first (with PostgreSQL, several processes can share one database)`);
    }
    // Left by a process that ended without releasing it (killed): take it over.
    rmSync(file, { force: true });
  }
  throw new Error(`could not lock ${what}`);
}
