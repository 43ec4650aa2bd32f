/**
 * The Dockerfile and the systemd unit (deploy/confab.service) are not built or installed on these
 * machines (no Docker engine, no systemd as PID 1), so this test holds them to what is run here:
 * it reads the start command, the variables and the health check out of each file, runs that
 * command with those variables (the data directory and the port moved to a temporary directory and a
 * free port), and runs the health check until it passes. Every variable they set must be one the
 * server reads (the README's configuration table). The built server (`npm run build`) must exist.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { VARIABLES } from '../packages/server/src/config.ts';
import { freePort } from '../packages/server/src/test/faults.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);
/** Variables that are not the server's own but the runtime's. */
const RUNTIME = new Set(['NODE_ENV']);

interface Recipe {
  command: string[];
  env: Record<string, string>;
  health: string[];
}

function dockerfile(): Recipe {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const final = text.slice(text.lastIndexOf('\nFROM '));
  const env = Object.fromEntries([...final.matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  const command = JSON.parse(/^CMD (\[.*\])$/m.exec(final)![1]!) as string[];
  const health = JSON.parse(/^HEALTHCHECK .* CMD (\[.*\])$/m.exec(final)![1]!) as string[];
  expect(/^USER (\S+)$/m.exec(final)?.[1]).toBe('node');
  return { command, env, health };
}

function systemdUnit(): Recipe {
  const text = readFileSync(path.join(ROOT, 'deploy/confab.service'), 'utf8');
  const env = Object.fromEntries([...text.matchAll(/^Environment=(\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  const command = /^ExecStart=(.+)$/m.exec(text)![1]!.split(' ');
  expect(command[0]).toBe('/usr/bin/node');
  expect(/^User=(\S+)$/m.exec(text)?.[1]).toBe('confab');
  // The unit has no health check of its own: the same script as the container's.
  return { command: ['node', ...command.slice(1)], env, health: ['node', 'packages/server/bin/healthcheck.mjs'] };
}

let child: ChildProcess | undefined;
let dataDir: string | undefined;
afterEach(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function startsAndIsHealthy(recipe: Recipe): Promise<void> {
  for (const name of Object.keys(recipe.env)) expect(RUNTIME.has(name) || name in VARIABLES, `${name} is not a variable the server reads`).toBe(true);
  expect(existsSync(path.join(ROOT, 'packages/server/dist/main.js')), 'the server is built (npm run build)').toBe(true);
  dataDir = mkdtempSync(path.join(tmpdir(), 'confab-deploy-'));
  const port = String(await freePort());
  const env = { PATH: process.env.PATH!, ...recipe.env, DATA_DIR: dataDir, PORT: port, HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  const node = (args: string[]) => (args[0] === 'node' ? [process.execPath, ...args.slice(1)] : args);
  const [bin, ...args] = node(recipe.command);
  child = spawn(bin!, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [healthBin, ...healthArgs] = node(recipe.health);
  // Unhealthy until it has started.
  const deadline = Date.now() + 30_000;
  for (;;) {
    expect(child.exitCode, stderr).toBeNull();
    const ok = await run(healthBin!, healthArgs, { cwd: ROOT, env }).then(
      () => true,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`never healthy: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // And unhealthy again once it is gone.
  const exited = new Promise((resolve) => child!.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  await expect(run(healthBin!, healthArgs, { cwd: ROOT, env })).rejects.toThrow();
}

describe('deployment recipes', () => {
  it('the Dockerfile: its command starts the server as `npm start` does, its health check follows /readyz', async () => {
    const recipe = dockerfile();
    expect(recipe.command).toEqual(['node', '--enable-source-maps', 'packages/server/dist/main.js']);
    await startsAndIsHealthy(recipe);
  }, 60_000);

  it('the systemd unit: the same command and variables', async () => {
    const recipe = systemdUnit();
    expect(recipe.command).toEqual(dockerfile().command);
    await startsAndIsHealthy(recipe);
  }, 60_000);
});
