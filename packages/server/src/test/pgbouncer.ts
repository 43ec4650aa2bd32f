import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { freePort } from './faults.ts';

/** Debian's PgBouncer (scripts/test-services.sh installs it). */
export const PGBOUNCER = '/usr/sbin/pgbouncer';
export const hasPgBouncer = () => existsSync(PGBOUNCER);

export interface PgBouncer {
  /** A URL for database `name` through the pooler. */
  url(name: string): string;
  close(): Promise<void>;
}

/**
 * A real PgBouncer in front of the test PostgreSQL (`target`, e.g. 127.0.0.1:5432 as user
 * postgres, trust), on a free port, in `mode`, with `poolSize` server connections per database:
 * few, so that a transaction-mode pooler really hands one client's statements to different
 * server connections. PgBouncer refuses to run as root: there it runs as the `postgres` user.
 */
export async function startPgBouncer(opts: { mode: 'session' | 'transaction'; poolSize: number; target: URL }): Promise<PgBouncer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-pgbouncer-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const ini = path.join(dir, 'pgbouncer.ini');
  writeFileSync(
    ini,
    [
      '[databases]',
      `* = host=${opts.target.hostname} port=${opts.target.port || 5432} user=${decodeURIComponent(opts.target.username || 'postgres')}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = any',
      `pool_mode = ${opts.mode}`,
      `default_pool_size = ${opts.poolSize}`,
      'max_client_conn = 200',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      'ignore_startup_parameters = extra_float_digits,options',
      '',
    ].join('\n'),
  );
  chmodSync(ini, 0o644);
  const asRoot = userInfo().uid === 0;
  const ids = asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) } : {};
  if (asRoot) execFileSync('chown', ['-R', `${ids.uid}:${ids.gid}`, dir]);
  const child: ChildProcess = spawn(PGBOUNCER, [ini], { ...ids, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // Ready once it accepts connections.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`pgbouncer did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url(name) {
      const url = new URL(opts.target.href);
      url.host = `127.0.0.1:${port}`;
      url.pathname = `/${name}`;
      return url.toString();
    },
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM'); // 1.18: an immediate shutdown
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
