/** Starts Confab server processes for benchmarks: the built server as `npm start` runs it, stopped by the caller. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createPostgresDatabase } from '../packages/server/src/test/harness.ts';
import { startServerProcess } from '../packages/server/src/test/processes.ts';

export interface Node {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startNode(env: Record<string, string>): Promise<Node> {
  const server = startServerProcess({ LOG_LEVEL: 'warn', CONFAB_RATE_LIMITS: 'off', ...env }, { built: true });
  // Benchmarks run long: keep the pipes drained so a chatty server never blocks on a full pipe.
  server.child.stderr!.on('data', (d) => process.stderr.write(d));
  return { url: await server.url, process: server.child, stop: async () => void (await server.stop()) };
}

/** A fresh PostgreSQL database for one benchmark run (the tests' helper); dropped by the returned function. */
export const freshPostgres = (adminUrl = process.env.CONFAB_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres') =>
  createPostgresDatabase(adminUrl);

export const tempDataDir = () => mkdtempSync(path.join(tmpdir(), 'confab-bench-'));
export const sharedSecret = () => randomBytes(32).toString('base64url');

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
