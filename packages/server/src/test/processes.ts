import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));

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

/** Starts `main.ts` as `npm start` would, in its own process (to kill it, or to run several nodes). */
export function startServerProcess(env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
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
