/**
 * The Dockerfile and the systemd unit (deploy/confab.service) are not built or installed on these
 * machines (no Docker engine, no systemd as PID 1), so this test holds them to what is run here:
 * it reads the start command, the variables and the health check out of each file, runs that
 * command with those variables (the data directory and the port moved to a temporary directory and a
 * free port), and runs the health check until it passes. Every variable they set must be one the
 * server reads (the README's configuration table). The built server (`npm run build`) must exist.
 * The compose files (compose.yaml, compose.cluster.yaml) are read as Docker Compose reads them and held
 * to the Dockerfile (build, health check), to the server's variables and to docs/proxy/nginx.conf.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
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

/** The Dockerfile's HEALTHCHECK: its options (`--interval=10s` → interval: '10s') and command. */
function dockerHealthcheck(): { options: Record<string, string>; command: string[] } {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const m = /^HEALTHCHECK (.*) CMD (\[.*\])$/m.exec(text.slice(text.lastIndexOf('\nFROM ')))!;
  const options = Object.fromEntries([...m[1]!.matchAll(/--([\w-]+)=(\S+)/g)].map((o) => [o[1]!.replace('-', '_'), o[2]!]));
  return { options, command: JSON.parse(m[2]!) as string[] };
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

interface ComposeService {
  build?: string | { context?: string; dockerfile?: string };
  image?: string;
  environment?: Record<string, string | number | boolean | null>;
  volumes?: string[];
  ports?: string[];
  network_mode?: string;
  healthcheck?: { test: string[]; interval?: string; timeout?: string; start_period?: string; retries?: number };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** A compose file as Docker Compose reads it (anchors and `<<` merges resolved). */
function compose(name: string): ComposeFile {
  return parseYaml(readFileSync(path.join(ROOT, name), 'utf8'), { merge: true }) as ComposeFile;
}

/** The services built from the Dockerfile: Confab's nodes. */
const confabServices = (file: ComposeFile) => Object.entries(file.services).filter(([, s]) => s.build !== undefined);

/** What every Confab service of a compose file must keep: the Dockerfile's build and health check, only variables the server reads. */
function checkConfabServices(file: ComposeFile): Array<[string, ComposeService]> {
  const services = confabServices(file);
  expect(services.length).toBeGreaterThan(0);
  const health = dockerHealthcheck();
  for (const [name, service] of services) {
    const build = typeof service.build === 'string' ? { context: service.build } : service.build!;
    expect(build.context, `${name} builds from the repository's root`).toBe('.');
    expect(build.dockerfile ?? 'Dockerfile', `${name} builds the Dockerfile`).toBe('Dockerfile');
    for (const variable of Object.keys(service.environment ?? {})) {
      expect(RUNTIME.has(variable) || variable in VARIABLES, `${name}: ${variable} is not a variable the server reads`).toBe(true);
    }
    // The Dockerfile's health check, the same command and timing (stated again so that it shows).
    expect(service.healthcheck?.test, name).toEqual(['CMD', ...health.command]);
    const { test: _test, ...timing } = service.healthcheck!;
    expect({ ...timing, retries: String(timing.retries) }, name).toEqual(health.options);
  }
  return services;
}

describe('compose files', () => {
  it('compose.yaml: one node on the embedded database, its data in a named volume, built from the Dockerfile', () => {
    const file = compose('compose.yaml');
    const [[, node]] = checkConfabServices(file) as [[string, ComposeService]];
    expect(node.environment?.DATABASE_URL, 'the embedded database').toBeUndefined();
    const data = node.volumes?.find((v) => v.endsWith(':/data'));
    expect(data, 'DATA_DIR (/data in the image) on a volume').toBeDefined();
    expect(Object.keys(file.volumes ?? {})).toContain(data!.split(':')[0]);
    // Published on the port the image's server listens on.
    expect(node.ports).toEqual([`${dockerfile().env.PORT}:${dockerfile().env.PORT}`]);
  });

  it('compose.cluster.yaml: three nodes sharing PostgreSQL, Redis and a secret, behind nginx running the docs recipe as it is', () => {
    const file = compose('compose.cluster.yaml');
    const nodes = checkConfabServices(file);
    expect(nodes).toHaveLength(3);
    expect(file.services.postgres?.image).toMatch(/^postgres:16/);
    expect(file.services.redis?.image).toMatch(/^redis:7/);
    const nginx = file.services.nginx!;
    // The recipe file itself, mounted where nginx's image includes it in its http block, with the certificate paths it names.
    const recipe = readFileSync(path.join(ROOT, 'docs/proxy/nginx.conf'), 'utf8');
    expect(nginx.volumes).toContain('./docs/proxy/nginx.conf:/etc/nginx/conf.d/default.conf:ro');
    for (const [, file] of recipe.matchAll(/^\s*ssl_certificate(?:_key)?\s+(\S+);/gm)) expect(nginx.volumes!.some((v) => v.split(':')[1] === file), file).toBe(true);
    // The recipe's upstreams are 127.0.0.1:port: the nodes share nginx's network and listen on those ports, on loopback only.
    const upstreams = [...recipe.matchAll(/^\s*server 127\.0\.0\.1:(\d+)/gm)].map((m) => m[1]);
    expect(nodes.map(([, n]) => String(n.environment?.PORT)).sort()).toEqual(upstreams.sort());
    for (const [name, node] of nodes) {
      expect(node.network_mode, name).toBe('service:nginx');
      const env = node.environment!;
      expect(env.HOST, `${name} is reachable through nginx only`).toBe('127.0.0.1');
      // What the rolling-restart test gives its nodes.
      for (const v of ['DATABASE_URL', 'REDIS_URL', 'CONFAB_SECRET', 'CONFAB_PUBLIC_URL']) expect(env[v], `${name}: ${v}`).toBeTruthy();
      expect(String(env.CONFAB_TRUST_PROXY)).toBe('true');
      expect(String(env.DATABASE_URL)).toMatch(/@postgres:5432\//);
      expect(env.REDIS_URL).toBe('redis://redis:6379');
    }
    // Shared: the same database, Redis and secret on every node; its own data directory each.
    for (const v of ['DATABASE_URL', 'REDIS_URL', 'CONFAB_SECRET', 'CONFAB_PUBLIC_URL']) expect(new Set(nodes.map(([, n]) => n.environment![v])).size, v).toBe(1);
    expect(new Set(nodes.map(([, n]) => n.volumes?.find((v) => v.endsWith(':/data')))).size).toBe(3);
  });
});
