/**
 * ejabberd (Debian's package) as a real peer in the benchmark: started as a plain Erlang VM of our
 * own, not through the system service or `ejabberdctl` (which would `su` to the ejabberd user and
 * read /etc/ejabberd), with its own config, Mnesia spool and log in a temporary directory, on a
 * free loopback port, against a fresh PostgreSQL database that holds everything (`default_db: sql`):
 * users, rooms and the message archive (mod_mam, SQL backend, `default: always`; rooms archived too).
 *
 * The VM runs without Erlang distribution (no node name): it registers nothing with epmd and opens
 * no port but the XMPP listener, so it cannot collide with another ejabberd or Erlang node here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freshPostgres } from '../nodes.ts';
import { freePort, sleep } from './proc.ts';

/** Where Debian installs ejabberd's own applications, and the Erlang library root. */
const EJABBERD_LIBS = '/usr/lib/x86_64-linux-gnu';
const ERLANG_LIBS = '/usr/lib/erlang/lib';
const SCHEMA = '/usr/share/ejabberd/sql/pg.sql';

export interface Ejabberd {
  host: string;
  port: number;
  domain: string;
  mucDomain: string;
  /** The beam.smp process (erl execs into it): for CPU meters and `track()`. */
  pid: number;
  process: ChildProcess;
  databaseUrl: string;
  /** Runs SQL against ejabberd's database (user registration, archive checks). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  stop(): Promise<void>;
}

/** Fails early, with the packages to install, when Debian's ejabberd or its PostgreSQL driver is missing. */
export function checkInstalled(): void {
  const has = (dir: string, prefix: string) => existsSync(dir) && readdirSync(dir).some((d) => d.startsWith(prefix));
  const missing = [
    ...(has(EJABBERD_LIBS, 'ejabberd-') && existsSync(SCHEMA) && existsSync('/usr/bin/erl') ? [] : ['ejabberd']),
    // ejabberd's PostgreSQL driver is a separate package Debian does not pull in with ejabberd.
    ...(has(ERLANG_LIBS, 'p1_pgsql-') || has(EJABBERD_LIBS, 'p1_pgsql-') ? [] : ['erlang-p1-pgsql']),
  ];
  if (missing.length) throw new Error(`ejabberd target: missing Debian packages, run: apt-get install -y ${missing.join(' ')}`);
}

function config(o: { domain: string; mucDomain: string; port: number; database: string; dbHost: string; dbPort: number; dbUser: string; dbPassword: string }): string {
  // YAML by hand: every value here is ours (names and numbers), no quoting surprises.
  return `hosts: [${o.domain}]
loglevel: warning
hide_sensitive_log_data: true
default_db: sql
sql_type: pgsql
sql_server: ${o.dbHost}
sql_port: ${o.dbPort}
sql_database: ${o.database}
sql_username: ${o.dbUser}
sql_password: "${o.dbPassword}"
sql_pool_size: 20
auth_method: sql
auth_password_format: plain
listen:
  - port: ${o.port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 1024
    max_stanza_size: 262144
modules:
  mod_mam:
    db_type: sql
    default: always
  mod_muc:
    host: ${o.mucDomain}
    db_type: sql
    access_create: all
    access_persistent: all
    max_users: 5000
    max_user_conferences: 10000
    history_size: 0
    default_room_options:
      persistent: true
      mam: true
      max_users: 5000
      # No occupant presence broadcast: joining a room of 1,000 costs 1,000 stanzas, not 500,000,
      # and Confab's rooms send no presence either.
      presence_broadcast: []
  mod_stream_mgmt:
    # Acks only (the client asks for no resumption either).
    resume_timeout: 0
`;
}

/** `onSpawn` sees the VM's process at once (the bench tracks it, to kill it if the bench dies). */
export async function startEjabberd(onSpawn?: (child: ChildProcess) => void): Promise<Ejabberd> {
  checkInstalled();
  const db = await freshPostgres();
  const url = new URL(db.url);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  let child: ChildProcess | undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-bench-ejabberd-'));
  try {
    // The schema shipped with the package (the "old" single-host layout, ejabberd's default).
    await client.query(readFileSync(SCHEMA, 'utf8'));
    const port = await freePort();
    const domain = 'bench.test';
    const mucDomain = `conference.${domain}`;
    mkdirSync(path.join(dir, 'spool'));
    const configPath = path.join(dir, 'ejabberd.yml');
    writeFileSync(
      configPath,
      config({ domain, mucDomain, port, database: url.pathname.slice(1), dbHost: url.hostname, dbPort: Number(url.port || 5432), dbUser: decodeURIComponent(url.username || 'postgres'), dbPassword: decodeURIComponent(url.password) }),
    );
    child = spawn('/usr/bin/erl', ['+K', 'true', '+P', '250000', '-noinput', '-noshell', '-mnesia', 'dir', `"${path.join(dir, 'spool')}"`, '-s', 'ejabberd'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        EJABBERD_CONFIG_PATH: configPath,
        EJABBERD_LOG_PATH: path.join(dir, 'ejabberd.log'),
        ERL_LIBS: EJABBERD_LIBS,
        ERL_CRASH_DUMP: path.join(dir, 'erl_crash.dump'),
        ERL_MAX_PORTS: '65536',
        ERL_MAX_ETS_TABLES: '1400',
        // Unused by ejabberd (its database is in the config): it lets databaseCpuMeter find the
        // PostgreSQL backends of this server's database, as it does for Confab.
        DATABASE_URL: db.url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = child;
    onSpawn?.(proc);
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-8000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // Ready when the c2s listener accepts connections (it opens after every module started).
    const deadline = performance.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`ejabberd exited during start-up:\n${output}`);
      if (await canConnect(port)) break;
      if (performance.now() > deadline) throw new Error(`ejabberd did not listen on ${port} within 60 s:\n${output}`);
      await sleep(100);
    }
    return {
      host: '127.0.0.1',
      port,
      domain,
      mucDomain,
      pid: proc.pid!,
      process: proc,
      databaseUrl: db.url,
      query: (text, values) => client.query(text, values),
      async stop() {
        // The VM turns SIGTERM into init:stop(): ejabberd closes its sessions and SQL pool.
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
        await client.end();
        await db.drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    child?.kill('SIGKILL');
    await client.end();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
