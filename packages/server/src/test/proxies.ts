import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import { Agent, fetch as undiciFetch } from 'undici';

/**
 * Debian's nginx and Caddy as children of a test, on free ports, running the reverse-proxy recipes
 * of docs/operations.md as they are: the recipes live in docs/proxy/ and are read from there, and
 * only what differs per deployment is filled in (the listening port, the certificate files, the
 * addresses of the Confab nodes), each by a replacement that fails when the recipe no longer has
 * the text it replaces. So the docs and the tests cannot drift apart.
 */

const DOCS = fileURLToPath(new URL('../../../../docs/', import.meta.url));
/** Debian puts nginx in /usr/sbin, which is not on every user's PATH. */
const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

export type RecipeName = 'nginx.conf' | 'Caddyfile';

export function readRecipe(name: RecipeName): string {
  return readFileSync(path.join(DOCS, 'proxy', name), 'utf8');
}

export function readDoc(name: string): string {
  return readFileSync(path.join(DOCS, name), 'utf8');
}

/** `text` with `from` replaced; throws when the recipe does not contain it (any more). */
export function replaceIn(text: string, from: string | RegExp, to: string): string {
  const found = typeof from === 'string' ? text.includes(from) : from.test(text);
  if (!found) throw new Error(`the recipe no longer contains ${String(from)}: update the test together with docs/proxy/`);
  return typeof from === 'string' ? text.split(from).join(to) : text.replace(from, to);
}

/** A throwaway directory that nginx's workers (user nobody when started as root) can read. */
export function proxyDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export interface Certificate {
  certFile: string;
  keyFile: string;
  /** The certificate in PEM: a client trusts the proxy by taking it as its CA. */
  ca: string;
}

/** A self-signed certificate for localhost and 127.0.0.1, made with Debian's openssl. */
export function selfSignedCertificate(dir: string): Certificate {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile],
    { stdio: 'pipe' },
  );
  chmodSync(keyFile, 0o644);
  return { certFile, keyFile, ca: readFileSync(certFile, 'utf8') };
}

/** The proxy tests' ports come from the same helper as the fault tests'. */
export { freePort } from './faults.ts';

/** host:port of each Confab node, from its URL. */
export const upstreamOf = (url: string) => new URL(url).host;

/**
 * The nginx recipe for `upstreams` on 127.0.0.1:`port` with `cert`. `edit` changes it further,
 * for a test that shows what a setting is for (e.g. a shorter timeout, or no sticky line).
 */
export function nginxSite(opts: { port: number; upstreams: string[]; cert: Certificate; edit?: (site: string) => string }): string {
  let site = readRecipe('nginx.conf');
  site = replaceIn(site, 'listen 443 ssl;', `listen 127.0.0.1:${opts.port} ssl;`);
  site = replaceIn(site, '/etc/ssl/certs/chat.example.com.pem', opts.cert.certFile);
  site = replaceIn(site, '/etc/ssl/private/chat.example.com.key', opts.cert.keyFile);
  // The node addresses change; the parameters of the recipe's server lines (max_fails=0) stay.
  const params = / {4}server 127\.0\.0\.1:\d+([^;\n]*);\n/.exec(site)?.[1] ?? '';
  site = replaceIn(site, /( {4}server 127\.0\.0\.1:\d+[^;\n]*;\n)+/, opts.upstreams.map((u) => `    server ${u}${params};\n`).join(''));
  return opts.edit ? opts.edit(site) : site;
}

/** The Caddy recipe for `upstreams` on 127.0.0.1:`port` with `cert` (instead of a certificate from Let's Encrypt). */
export function caddySite(opts: { port: number; upstreams: string[]; cert: Certificate }): string {
  let site = readRecipe('Caddyfile');
  site = replaceIn(site, 'chat.example.com {', `https://127.0.0.1:${opts.port} {\n\ttls ${opts.cert.certFile} ${opts.cert.keyFile}`);
  site = replaceIn(site, /reverse_proxy 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+/, `reverse_proxy ${opts.upstreams.join(' ')}`);
  return site;
}

export interface ProxyProcess {
  /** https://127.0.0.1:port */
  url: string;
  port: number;
  /** nginx only: loads another site config (SIGHUP); new connections get it, open ones finish on the old workers. */
  reload(site: string): Promise<void>;
  /** What the proxy wrote to its logs, for failure messages. */
  logs(): string;
  close(): Promise<void>;
}

function waitForPort(port: number, child: ChildProcess, logs: () => string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`the proxy exited with ${child.exitCode}: ${logs()}`));
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() - started > timeoutMs) reject(new Error(`the proxy did not listen on ${port}: ${logs()}`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/**
 * nginx in the foreground (`daemon off`) with `site` in its http block, on `port`. Everything it
 * writes (pid, temp files, logs) stays in a directory of its own.
 */
export async function startNginx(site: string, port: number): Promise<ProxyProcess> {
  const dir = proxyDir('confab-nginx-');
  const sitePath = path.join(dir, 'site.conf');
  const errorLog = path.join(dir, 'error.log');
  writeFileSync(sitePath, site);
  const main = [
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${errorLog} warn;`,
    'worker_processes 1;',
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, t)};`),
    `  include ${sitePath};`,
    '}',
    '',
  ].join('\n');
  const mainPath = path.join(dir, 'nginx.conf');
  writeFileSync(mainPath, main);
  let output = '';
  const child = spawn(NGINX, ['-p', dir, '-c', mainPath, '-e', errorLog, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  child.on('error', (e) => (output += `${e.message} (is Debian's nginx installed? npm run test:services installs it)`));
  const logs = () => {
    let log = '';
    try {
      log = readFileSync(errorLog, 'utf8');
    } catch {
      /* not written yet */
    }
    return `${output}\n${log}`.trim().slice(-3000);
  };
  try {
    await waitForPort(port, child, logs);
  } catch (error) {
    await stop(child, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    logs,
    async reload(next: string) {
      writeFileSync(sitePath, next);
      // Checked first, so a broken config fails here instead of being ignored by the running nginx.
      execFileSync(NGINX, ['-t', '-q', '-p', dir, '-c', mainPath, '-e', errorLog], { stdio: 'pipe' });
      child.kill('SIGHUP');
    },
    async close() {
      await stop(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Caddy with `site`, on `port`. The global options keep it to itself: no admin endpoint (parallel
 * test files would share :2019), no HTTP→HTTPS redirect listener on :80, no HTTP/3 (UDP), no
 * attempt to install its own CA, state in its own directory.
 */
export async function startCaddy(site: string, port: number): Promise<ProxyProcess> {
  const dir = proxyDir('confab-caddy-');
  const global = ['{', '\tadmin off', '\tauto_https disable_redirects', '\tskip_install_trust', '\tdefault_bind 127.0.0.1', '\tservers {', '\t\tprotocols h1 h2', '\t}', '}', ''].join('\n');
  const file = path.join(dir, 'Caddyfile');
  writeFileSync(file, `${global}\n${site}`);
  let output = '';
  const child = spawn('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: path.join(dir, 'data'), XDG_CONFIG_HOME: path.join(dir, 'config') },
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  child.on('error', (e) => (output += `${e.message} (is Debian's caddy installed? npm run test:services installs it)`));
  const logs = () => output.slice(-3000);
  try {
    await waitForPort(port, child, logs);
  } catch (error) {
    await stop(child, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    logs,
    reload() {
      return Promise.reject(new Error('reload is for nginx only'));
    },
    async close() {
      await stop(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** How a test client reaches a proxy: trusting its certificate, optionally from another loopback address (127.0.0.x). */
export interface ClientSide {
  ca: string;
  localAddress?: string;
}

export type FetchFn = (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array }) => Promise<Response>;

/** fetch that trusts `ca` and connects from `localAddress`. */
export function clientFetch(side: ClientSide): FetchFn {
  // undici takes the local address as an option of its own (in `connect` it is ignored).
  const dispatcher = new Agent({ connect: { ca: side.ca }, ...(side.localAddress ? { localAddress: side.localAddress } : {}) });
  return (url, init) => undiciFetch(url, { ...init, dispatcher }) as unknown as Promise<Response>;
}

/** socket.io-client options for the same: the CA for the WebSocket and for long-polling, and an agent bound to `localAddress`. */
export function clientSocketOptions(side: ClientSide): Partial<ManagerOptions & SocketOptions> {
  if (!side.localAddress) return { ca: side.ca };
  // In Node, engine.io-client hands `agent` to ws and to its XMLHttpRequest (its type is the browser's: string | boolean).
  return { ca: side.ca, agent: new HttpsAgent({ ca: side.ca, localAddress: side.localAddress }) as unknown as string };
}

/** The value of `directive` in a recipe, e.g. `proxy_read_timeout` → "120s". */
export function directive(recipe: string, name: string): string {
  const m = new RegExp(`^\\s*${name}\\s+([^;\\s]+)\\s*;`, 'm').exec(recipe);
  if (!m) throw new Error(`the recipe has no ${name}`);
  return m[1]!;
}
