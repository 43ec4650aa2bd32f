import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));
const builtMain = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  /** The URL the server printed ("Confab listening on …"). */
  url: Promise<string>;
  exited: Promise<number | null>;
  /** Resolves with the first match of `pattern` in the process's standard output. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** SIGTERM, resolving when the process has exited. */
  stop(): Promise<number | null>;
}

/**
 * Starts the server in its own process (to kill it, or to run several nodes): the sources through
 * the TypeScript loader (tests: what is being changed), or with `built` the bundle that `npm start`
 * runs (benchmarks: what users run; build it first with `npm run build -w @confab/server`), or with
 * `main` the sources of another checkout (an older release, for the upgrade test).
 */
export function startServerProcess(env: Record<string, string>, opts: { built?: boolean; main?: string } = {}): ServerProcess {
  if (opts.built && !existsSync(builtMain)) throw new Error(`${builtMain} is missing: run \`npm run build -w @confab/server\` first`);
  const args = opts.built ? ['--enable-source-maps', builtMain] : ['--import', 'tsx', opts.main ?? main];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', CONFAB_REGISTRATION: 'open', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let out = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(out);
        if (m) {
          child.stdout!.off('data', check);
          resolve(m);
        }
      };
      child.stdout!.on('data', check);
      void exited.then((code) => reject(new Error(`server exited with ${code}: ${stderr.slice(-2000)}`)));
      check();
    });
  return {
    child,
    url: waitFor(/Confab listening on (http:\/\/\S+)/).then((m) => m[1]!),
    exited,
    waitFor,
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
