/** The machine and software versions a run was measured on, for the results file and the docs. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { Redis } from 'ioredis';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  openFilesLimit: string;
  loadavg: number[];
}

export interface Versions {
  /** The commit measured (and whether the work tree had changes on top of it). */
  commit: string;
  node: string;
  postgres: string;
  redis: string;
  packages: Record<string, string>;
}

export function machineInfo(): MachineInfo {
  let osName = os.type();
  try {
    osName = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? osName;
  } catch {
    /* not Linux */
  }
  let openFiles = 'unknown';
  try {
    const m = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) openFiles = `${m[1]} (hard ${m[2]})`;
  } catch {
    /* not Linux */
  }
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: os.release(),
    os: osName,
    openFilesLimit: openFiles,
    loadavg: os.loadavg().map((l) => +l.toFixed(2)),
  };
}

function packageVersion(name: string): string {
  // As the server loads them: its own node_modules first, then the workspace root's.
  for (const dir of ['../../packages/server/node_modules/', '../../node_modules/']) {
    try {
      return (JSON.parse(readFileSync(new URL(`${dir}${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      /* try the next */
    }
  }
  return 'missing';
}

export async function versions(): Promise<Versions> {
  let postgres = 'unavailable';
  try {
    const c = new pg.Client({ connectionString: process.env.CONFAB_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
    await c.connect();
    postgres = ((await c.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?').split(' ')[0]!;
    const settings = await c.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'commit_delay')",
    );
    postgres += ` (${settings.rows.map((r) => `${r.name}=${r.setting}`).join(', ')})`;
    await c.end();
  } catch {
    /* reported as unavailable */
  }
  let redis = 'unavailable';
  try {
    const r = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await r.connect();
    redis = /redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? '?';
    r.disconnect();
  } catch {
    /* reported as unavailable */
  }
  const confab = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const names = ['socket.io', 'engine.io', 'socket.io-client', 'ws', 'bufferutil', 'utf-8-validate', 'pg', '@electric-sql/pglite', 'ioredis', '@socket.io/redis-adapter', 'fastify', 'hdr-histogram-js', 'tsx'];
  let commit = 'unknown';
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: new URL('../../', import.meta.url).pathname, encoding: 'utf8' }).trim();
    commit = git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no', '--', 'packages') ? ' + uncommitted changes in packages/' : '');
  } catch {
    /* not a git checkout */
  }
  return { commit, node: process.version, postgres, redis, packages: { confab, ...Object.fromEntries(names.map((n) => [n, packageVersion(n)])) } };
}
