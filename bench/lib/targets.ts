/**
 * The systems under test behind one interface, so each scenario is written once:
 *   - Confab: real `main.ts` processes (bench/nodes.ts), users registered over REST (argon2id, ~50 ms
 *     of CPU each, so scenarios register a few hundred and spread connections over them);
 *   - the baseline (bench/baseline/server.ts) in its own process, users and rooms set up in memory.
 *   - ejabberd (bench/lib/ejabberd.ts), a real XMPP server storing on PostgreSQL, spoken to by the
 *     lean XMPP client (bench/lib/xmpp.ts) through the target's `connect`; users are rows in its
 *     `users` table.
 * Confab and the baseline are plain Socket.IO servers to the lean client: same events, same
 * payloads; the XMPP client maps the same sends and deliveries onto XMPP stanzas.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { AuthResult, Conversation } from '@confab/protocol';
import { freshPostgres, sharedSecret, startNode, tempDataDir, type Node } from '../nodes.ts';
import { startEjabberd } from './ejabberd.ts';
import type { ChatSocket, LeanOptions } from './lean.ts';
import { mapLimit } from './proc.ts';
import { XmppSocket } from './xmpp.ts';

/** Every server process the bench started: killed if the bench exits early, so none is left behind. */
const children = new Set<ChildProcess>();
export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

export interface BenchUser {
  id: string;
  token: string;
}

export type Store = 'postgres' | 'embedded' | 'none';

export interface Target {
  /** Stable id used in results, e.g. "confab-postgres", "baseline-insert-postgres", "baseline-none". */
  key: string;
  /** Human label for tables. */
  label: string;
  system: 'confab' | 'baseline' | 'ejabberd';
  store: Store;
  url: string;
  pid: number;
  /**
   * Opens one client connection for a user (`opts.token`). Absent: the lean Socket.IO client.
   * For ejabberd: the lean XMPP client, joined to the user's rooms.
   */
  connect?: (opts: LeanOptions) => Promise<ChatSocket>;
  createUsers(n: number): Promise<BenchUser[]>;
  /** A direct conversation (two members) or a group; the first member creates it. Returns its id. */
  conversation(members: BenchUser[], kind: 'direct' | 'group'): Promise<string>;
  /** Server event-loop delay since the previous call, ms (10 ms sampling, as prom-client's default metrics). */
  eventLoop(): Promise<{ p50: number; p99: number; max: number }>;
  /** V8 heap in use in the server process, bytes. */
  heapUsed(): Promise<number>;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** Extra environment for the server process (e.g. NODE_OPTIONS for --cpu-prof). */
  env?: Record<string, string>;
  port?: number;
}

// ---------------------------------------------------------------------------------------------
// Confab
// ---------------------------------------------------------------------------------------------

export async function post<T>(url: string, path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * The server's /metrics text. Served to loopback callers, as the bench's are; with
 * CONFAB_METRICS_TOKEN in the bench's environment (a server elsewhere), it is sent.
 */
export async function scrape(url: string): Promise<string> {
  const token = process.env.CONFAB_METRICS_TOKEN;
  const res = await fetch(`${url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (!res.ok) throw new Error(`${url}/metrics: ${res.status} ${await res.text()}`);
  return res.text();
}

/** Prometheus text → sum of every sample of `name` (all label sets). */
export async function metric(url: string, name: string): Promise<number> {
  const text = await scrape(url);
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      found = true;
    }
  }
  return found ? sum : NaN;
}

export interface ConfabTarget extends Target {
  system: 'confab';
  node: Node;
  databaseUrl: string | undefined;
  dataDir: string;
  env: Record<string, string>;
  /** SIGTERM, wait for the exit, start again with the same database, data dir, secret and port. */
  restart(between?: () => Promise<void>): Promise<{ stoppedMs: number; startedMs: number }>;
}

export async function startConfab(store: 'postgres' | 'embedded', opts: TargetOptions = {}): Promise<ConfabTarget> {
  const db = store === 'postgres' ? await freshPostgres() : undefined;
  const dataDir = tempDataDir();
  const env: Record<string, string> = {
    CONFAB_SECRET: sharedSecret(),
    DATA_DIR: dataDir,
    // Long benchmark runs must not see their access tokens expire (15 min by default).
    CONFAB_ACCESS_TOKEN_TTL: '86400',
    // The load generator registers its users itself.
    CONFAB_REGISTRATION: 'open',
    ...(db ? { DATABASE_URL: db.url } : {}),
    ...(opts.port ? { PORT: String(opts.port) } : {}),
    ...opts.env,
  };
  let node = await startNode(env);
  track(node.process);
  const run = randomBytes(3).toString('hex');
  let userCount = 0;
  const target: ConfabTarget = {
    key: `confab-${store}`,
    label: `Confab (${store === 'postgres' ? 'PostgreSQL' : 'embedded PGlite'})`,
    system: 'confab',
    store,
    get url() {
      return node.url;
    },
    get pid() {
      return node.process.pid!;
    },
    get node() {
      return node;
    },
    databaseUrl: db?.url,
    dataDir,
    env,
    async createUsers(n) {
      const first = userCount;
      userCount += n;
      // argon2id runs on libuv's pool (4 threads): 4 at a time keeps both cores busy.
      return mapLimit(Array.from({ length: n }, (_, i) => first + i), 4, async (i) => {
        const r = await post<AuthResult>(node.url, '/api/auth/register', {
          email: `u${i}-${run}@bench.test`,
          password: 'benchmark password',
          handle: `u${i}_${run}`,
          displayName: `User ${i}`,
        });
        return { id: r.user.id, token: r.accessToken };
      });
    },
    async conversation(members, kind) {
      const [owner, ...others] = members;
      if (kind === 'direct') return (await post<Conversation>(node.url, '/api/conversations/direct', { userId: others[0]!.id }, owner!.token)).id;
      return (await post<Conversation>(node.url, '/api/conversations/group', { title: 'bench', participantIds: others.map((u) => u.id) }, owner!.token)).id;
    },
    async eventLoop() {
      // prom-client resets its event-loop histogram at every scrape: this reading covers the time
      // since the previous scrape. Its samples include the 10 ms sampling interval; we subtract it.
      const text = await scrape(node.url);
      const read = (n: string) => Number(new RegExp(`^confab_nodejs_eventloop_lag_${n}_seconds (\\S+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
      const lag = (v: number) => +Math.max(0, v - 10).toFixed(2);
      return { p50: lag(read('p50')), p99: lag(read('p99')), max: lag(read('max')) };
    },
    heapUsed: () => metric(node.url, 'confab_nodejs_heap_size_used_bytes'),
    async stop() {
      await node.stop();
      await db?.drop();
    },
    async restart(between) {
      const t0 = performance.now();
      await node.stop();
      const stoppedMs = performance.now() - t0;
      await between?.();
      const t1 = performance.now();
      node = await startNode(env);
      track(node.process);
      return { stoppedMs, startedMs: performance.now() - t1 };
    },
  };
  return target;
}

// ---------------------------------------------------------------------------------------------
// Baseline
// ---------------------------------------------------------------------------------------------

const baselineMain = fileURLToPath(new URL('../baseline/server.ts', import.meta.url));

export type BaselineStore = 'none' | 'postgres' | 'pglite';

export async function startBaseline(store: BaselineStore, opts: TargetOptions = {}): Promise<Target> {
  const db = store === 'postgres' ? await freshPostgres() : undefined;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', baselineMain], {
    env: {
      ...process.env,
      STORE: store,
      PORT: String(opts.port ?? 0),
      ...(db ? { DATABASE_URL: db.url } : {}),
      ...(store === 'pglite' ? { DATA_DIR: tempDataDir() } : {}),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /baseline listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then(() => reject(new Error(`baseline exited: ${out}`)));
  });
  const rooms = new Map<string, string[]>();
  let count = 0;
  const setup = async (users: BenchUser[]) => {
    const res = await fetch(`${url}/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ users: users.map((u) => ({ token: u.token, userId: u.id, rooms: rooms.get(u.id) ?? [] })) }),
    });
    if (res.status !== 204) throw new Error(`baseline setup: ${res.status}`);
  };
  const key = store === 'none' ? 'baseline-none' : `baseline-insert-${store}`;
  return {
    key,
    label: store === 'none' ? 'Socket.IO baseline (stores nothing)' : `Socket.IO baseline (one INSERT, ${store === 'postgres' ? 'PostgreSQL' : 'PGlite'})`,
    system: 'baseline',
    store: store === 'pglite' ? 'embedded' : store,
    url,
    pid: child.pid!,
    async createUsers(n) {
      const users = Array.from({ length: n }, () => ({ id: `u${count++}`, token: randomBytes(24).toString('base64url') }));
      await setup(users);
      return users;
    },
    async conversation(members) {
      const id = `c${randomBytes(6).toString('hex')}`;
      for (const m of members) rooms.set(m.id, [...(rooms.get(m.id) ?? []), id]);
      await setup(members);
      return id;
    },
    async eventLoop() {
      const s = (await (await fetch(`${url}/stats?reset`)).json()) as { eventLoop: { p50: number; p99: number; max: number } };
      const lag = (v: number) => +Math.max(0, v - 10).toFixed(2);
      return { p50: lag(s.eventLoop.p50), p99: lag(s.eventLoop.p99), max: lag(s.eventLoop.max) };
    },
    async heapUsed() {
      return ((await (await fetch(`${url}/stats`)).json()) as { heapUsed: number }).heapUsed;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await db?.drop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ejabberd
// ---------------------------------------------------------------------------------------------

export interface EjabberdTarget extends Target {
  system: 'ejabberd';
  /** Waits (10 s at most) until the archive holds `expected` rows; what it then holds. */
  archived(expected: number): Promise<{ expected: number; rows: number }>;
}

/** The archive check for an ejabberd target (undefined for the others). */
export async function ejabberdArchive(target: Target, expected: number): Promise<{ expected: number; rows: number } | undefined> {
  return target.system === 'ejabberd' ? (target as EjabberdTarget).archived(expected) : undefined;
}

/**
 * ejabberd on PostgreSQL. A user is a row in `users` (plain password: no SCRAM derivation, so
 * registering is as cheap as the baseline's); a direct conversation is the recipient's bare JID; a
 * group is a persistent MUC room with MAM, created by its first member, which every connection of
 * every member joins when it connects (as Confab's sockets join their conversations' rooms).
 */
export async function startEjabberdTarget(): Promise<EjabberdTarget> {
  const server = await startEjabberd(track);
  const run = randomBytes(3).toString('hex');
  let count = 0;
  /** password (the bench's "token") → username, username → password, username → its rooms. */
  const usernames = new Map<string, string>();
  const passwords = new Map<string, string>();
  const rooms = new Map<string, string[]>();
  const open = (username: string, opts: Omit<LeanOptions, 'url' | 'token'>, extra: { rooms?: string[]; createRooms?: string[] } = {}) =>
    XmppSocket.connect({
      host: server.host,
      port: server.port,
      domain: server.domain,
      mucDomain: server.mucDomain,
      username,
      password: passwords.get(username)!,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
      ...(opts.onClose ? { onClose: opts.onClose } : {}),
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      ...extra,
    });
  return {
    key: 'ejabberd-postgres',
    label: 'ejabberd (XMPP, mod_mam on PostgreSQL)',
    system: 'ejabberd',
    store: 'postgres',
    url: `xmpp://${server.host}:${server.port}`,
    pid: server.pid,
    async createUsers(n) {
      const users = Array.from({ length: n }, () => ({ id: `u${count++}_${run}`, token: randomBytes(18).toString('base64url') }));
      for (let i = 0; i < users.length; i += 1000) {
        const batch = users.slice(i, i + 1000);
        await server.query('INSERT INTO users (username, password) SELECT * FROM unnest($1::text[], $2::text[])', [batch.map((u) => u.id), batch.map((u) => u.token)]);
      }
      for (const u of users) {
        usernames.set(u.token, u.id);
        passwords.set(u.id, u.token);
      }
      return users;
    },
    async conversation(members, kind) {
      if (kind === 'direct') return `${members[1]!.id}@${server.domain}`;
      const room = `g${randomBytes(6).toString('hex')}@${server.mucDomain}`;
      // The first member creates and configures the room (an "instant room", XEP-0045 10.1.2), then leaves it.
      const owner = await open(members[0]!.id, {}, { createRooms: [room] });
      owner.close();
      for (const m of members) rooms.set(m.id, [...(rooms.get(m.id) ?? []), room]);
      return room;
    },
    connect(opts) {
      const username = usernames.get(opts.token ?? '');
      if (!username) return Promise.reject(new Error('ejabberd target: unknown user token'));
      return open(username, opts, { rooms: rooms.get(username) ?? [] });
    },
    // Not a Node process: no event loop, no V8 heap.
    eventLoop: () => Promise.resolve({ p50: NaN, p99: NaN, max: NaN }),
    heapUsed: () => Promise.resolve(NaN),
    async archived(expected) {
      const count = async () => Number((await server.query<{ n: string }>('SELECT count(*) AS n FROM archive')).rows[0]!.n);
      const deadline = performance.now() + 10_000;
      let rows = await count();
      while (rows < expected && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        rows = await count();
      }
      return { expected, rows };
    },
    stop: () => server.stop(),
  };
}

export function startTarget(key: string, opts: TargetOptions = {}): Promise<Target> {
  switch (key) {
    case 'confab-postgres':
      return startConfab('postgres', opts);
    case 'confab-embedded':
      return startConfab('embedded', opts);
    case 'baseline-none':
      return startBaseline('none', opts);
    case 'baseline-insert-postgres':
      return startBaseline('postgres', opts);
    case 'baseline-insert-pglite':
      return startBaseline('pglite', opts);
    case 'ejabberd-postgres':
      return startEjabberdTarget();
    default:
      throw new Error(`unknown target ${key}`);
  }
}
