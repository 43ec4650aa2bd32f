import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { AuthResult } from '@confab/protocol';
import { loadConfig, type Config } from '../config.ts';
import { createServer, type ConfabServer } from '../server.ts';

/**
 * Starts a real Confab server on a random port with a fresh database: embedded (PGlite in a temp
 * DATA_DIR) by default, or a new PostgreSQL database when CONFAB_TEST_DATABASE_URL is set
 * (`npm run test:postgres`). The database is dropped on close.
 */
export interface TestServer extends ConfabServer {
  config: Config;
}

export const testDatabase = process.env.CONFAB_TEST_DATABASE_URL ? 'postgres' : 'embedded';

async function createPostgresDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
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

export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'confab-test-'));
  const adminUrl = process.env.CONFAB_TEST_DATABASE_URL;
  const pgDb = adminUrl && overrides.databaseUrl === undefined ? await createPostgresDatabase(adminUrl) : undefined;
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
      ...overrides,
    },
  );
  const server = await createServer(config);
  return {
    ...server,
    config,
    async close() {
      await server.close();
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
