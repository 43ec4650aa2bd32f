import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { AuthResult } from '@confab/protocol';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../config.ts';
import { deleteKeys } from '../redis/redis.ts';
import { createServer, type ConfabServer, type ServerOptions } from '../server.ts';
import { openEmbedded, openPostgres, type Database } from '../storage/db.ts';
import { migrate } from '../storage/migrations.ts';

/**
 * Starts a real Confab server on a random port with a fresh database: embedded (PGlite in a temp
 * DATA_DIR) by default, or a new PostgreSQL database when CONFAB_TEST_DATABASE_URL is set
 * (`npm run test:postgres`). The database is dropped on close.
 */
export interface TestServer extends ConfabServer {
  config: Config;
}

export const testDatabase = process.env.CONFAB_TEST_DATABASE_URL ? 'postgres' : 'embedded';

/**
 * Redis for tests: CONFAB_TEST_REDIS_URL makes every test server use it (each with its own key
 * prefix, deleted on close); multi-node tests use it, or the local default, explicitly.
 */
export const testRedisUrl = process.env.CONFAB_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
export const newRedisPrefix = () => `confab-test-${randomBytes(6).toString('hex')}:`;

async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    await client.connect();
    await deleteKeys(client, prefix);
  } finally {
    client.disconnect();
  }
}

export async function createPostgresDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `confab_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * A fresh, empty database of the kind under test, without a server: PostgreSQL at
 * CONFAB_TEST_DATABASE_URL (a database of its own, dropped by `close`), else the embedded one in a
 * temporary directory (removed by `close`).
 */
export async function openTestDatabase(): Promise<{ db: Database; close: () => Promise<void> }> {
  const adminUrl = process.env.CONFAB_TEST_DATABASE_URL;
  if (adminUrl) {
    const created = await createPostgresDatabase(adminUrl);
    const db = await openPostgres(created.url);
    return {
      db,
      async close() {
        await db.close();
        await created.drop();
      },
    };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-db-'));
  const db = await openEmbedded(dir);
  return {
    db,
    async close() {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A migrated test database holding `userIds` as users (id, handle and name alike), for tests of
 * storage statements straight on the tables. `group(memberIds)` adds a group conversation with
 * those members and returns its id.
 */
export async function openStorageTestDatabase(userIds: string[]): Promise<{ db: Database; close: () => Promise<void>; group: (memberIds: string[]) => Promise<string> }> {
  const opened = await openTestDatabase();
  const { db } = opened;
  await migrate(db);
  for (const u of userIds) await db.query(`INSERT INTO users (id, handle, display_name) VALUES ($1, $1, $1)`, [u]);
  let groups = 0;
  const group = async (memberIds: string[]) => {
    const id = `c${++groups}`;
    await db.query(`INSERT INTO conversations (id, type, title) VALUES ($1, 'group', 't')`, [id]);
    for (const u of memberIds) await db.query(`INSERT INTO conversation_members (conversation_id, user_id, role) VALUES ($1, $2, 'member')`, [id, u]);
    return id;
  };
  return { ...opened, group };
}

export async function startTestServer(overrides: Partial<Config> = {}, options: ServerOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'confab-test-'));
  const adminUrl = process.env.CONFAB_TEST_DATABASE_URL;
  const pgDb = adminUrl && overrides.databaseUrl === undefined ? await createPostgresDatabase(adminUrl) : undefined;
  const redisUrl = overrides.redisUrl ?? process.env.CONFAB_TEST_REDIS_URL ?? undefined;
  // A prefix of its own unless the caller shares one between nodes (startTestNodes).
  const ownPrefix = redisUrl && options.redisPrefix === undefined ? newRedisPrefix() : undefined;
  const config = loadConfig(
    { ...process.env, DATABASE_URL: '', REDIS_URL: '', CONFAB_SECRET: '' },
    {
      port: 0,
      host: '127.0.0.1',
      dataDir,
      databaseUrl: pgDb?.url,
      logLevel: process.env.LOG_LEVEL ?? 'silent',
      fastPasswordHashing: true,
      // Tests register many users from one address; the rate-limit tests turn limits on.
      rateLimits: false,
      // Tests register their users themselves; the registration tests set the mode they test.
      registration: 'open',
      ...overrides,
      redisUrl,
    },
  );
  let server: ConfabServer;
  try {
    server = await createServer(config, { ...options, ...(ownPrefix ? { redisPrefix: ownPrefix } : {}) });
  } catch (error) {
    await pgDb?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...server,
    config,
    async close() {
      await server.close();
      // A fault test may have stopped its Redis already.
      if (redisUrl && ownPrefix) await dropRedisPrefix(redisUrl, ownPrefix).catch(() => {});
      await pgDb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Response<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A minimal REST client over real HTTP. */
export class Api {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  as(token: string | undefined): Api {
    return new Api(this.baseUrl, token);
  }

  async request<T = any>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response<T>> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (this.token) (init.headers as Record<string, string>).authorization = `Bearer ${this.token}`;
    if (body !== undefined) {
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetch(this.baseUrl + url, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
  get<T = any>(url: string) {
    return this.request<T>('GET', url);
  }
  post<T = any>(url: string, body?: unknown) {
    return this.request<T>('POST', url, body ?? {});
  }
  patch<T = any>(url: string, body?: unknown) {
    return this.request<T>('PATCH', url, body ?? {});
  }
  put<T = any>(url: string, body?: unknown) {
    return this.request<T>('PUT', url, body ?? {});
  }
  delete<T = any>(url: string) {
    return this.request<T>('DELETE', url);
  }
}

export interface TestUser extends AuthResult {
  api: Api;
  id: string;
}

let counter = 0;
/** Registers a fresh user; `name` becomes the handle prefix and display name. */
export async function registerUser(server: { url: string }, name = 'user'): Promise<TestUser> {
  counter++;
  const handle = `${name}${counter}_${randomBytes(3).toString('hex')}`;
  const res = await new Api(server.url).post<AuthResult>('/api/auth/register', {
    email: `${handle}@example.test`,
    password: 'correct horse battery',
    handle,
    displayName: name,
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...res.body, id: res.body.user.id, api: new Api(server.url, res.body.accessToken) };
}

export interface TestNodes {
  nodes: TestServer[];
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  /** Shared by all nodes: a token issued by one is valid on the others. */
  secret: string;
  close(): Promise<void>;
}

/**
 * Several server nodes sharing one fresh PostgreSQL database (CONFAB_TEST_DATABASE_URL is required:
 * the embedded database is one process) and one Redis key prefix. Everything is dropped on close.
 * `overrides.redisUrl` points them at another Redis (a fault test's own, see faults.ts);
 * `perNode[i]` overrides node i's config only (e.g. its `redisUrl`: a breakableProxy in front of
 * the shared Redis, to cut that node's link alone).
 */
export async function startTestNodes(count: number, overrides: Partial<Config> = {}, options: ServerOptions = {}, perNode: Array<Partial<Config>> = []): Promise<TestNodes> {
  const adminUrl = process.env.CONFAB_TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('startTestNodes needs CONFAB_TEST_DATABASE_URL (PostgreSQL)');
  const pgDb = await createPostgresDatabase(adminUrl);
  const redisPrefix = newRedisPrefix();
  const secret = randomBytes(32).toString('base64url');
  const redisUrl = overrides.redisUrl ?? testRedisUrl;
  const nodes: TestServer[] = [];
  const close = async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await dropRedisPrefix(redisUrl, redisPrefix).catch(() => {});
    await pgDb.drop();
  };
  try {
    // One after another: the first one migrates the database.
    for (let i = 0; i < count; i++) {
      nodes.push(await startTestServer({ databaseUrl: pgDb.url, secret, ...overrides, redisUrl, ...perNode[i] }, { ...options, redisPrefix }));
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { nodes, databaseUrl: pgDb.url, redisUrl, redisPrefix, secret, close };
}
