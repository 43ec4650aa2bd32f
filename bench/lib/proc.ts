/** Process measurements (Linux /proc) and small helpers shared by the scenarios. */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resident set size of a process, in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** utime + stime of a process, in seconds (USER_HZ = 100 on Linux). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU used by a process between `start()` and `stop()`, as cores (1.0 = one core busy). */
export function cpuMeter(pid: number) {
  const t0 = performance.now();
  const c0 = cpuSeconds(pid);
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    return { seconds: +(cpuSeconds(pid) - c0).toFixed(2), cores: +((cpuSeconds(pid) - c0) / seconds).toFixed(2) };
  };
}

/** A TCP port that was free a moment ago (for a server that must come back on the same port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Waits for `predicate` (polled every `everyMs`); false if `timeoutMs` passed first. */
export async function until(predicate: () => boolean, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
  return true;
}

/** Runs `fn` over `items` with at most `parallel` at a time, keeping the order of results. */
export async function mapLimit<T, R>(items: T[], parallel: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

export function log(...args: unknown[]): void {
  const t = new Date().toISOString().slice(11, 19);
  console.error(`[bench ${t}]`, ...args);
}

/** CPU used by this process (the generator) since the call, as cores. */
export function selfCpuMeter() {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  return () => {
    const c = process.cpuUsage(c0);
    return +((c.user + c.system) / 1000 / (performance.now() - t0)).toFixed(2);
  };
}

/**
 * Who used the machine's CPU during a scenario, in cores: the bench (this process and every child
 * it reaped: generators and servers), PostgreSQL (every postgres process, its exited backends
 * included through the postmaster), and everything else (other people's work: noise).
 */
export function machineCpuMeter() {
  const busy = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / 100;
  };
  const self = () => {
    const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  };
  const postgres = () => {
    let sum = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (!stat.includes('(postgres)')) continue;
        const f = stat.split(') ')[1]!.split(' ');
        sum += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
      } catch {
        /* exited */
      }
    }
    return sum;
  };
  const t0 = performance.now();
  const [b0, s0, p0] = [busy(), self(), postgres()];
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const [b, me, pg] = [busy() - b0, self() - s0, postgres() - p0];
    const r = (x: number) => +(x / seconds).toFixed(2);
    return { machineCores: r(b), benchCores: r(me), postgresCores: r(pg), otherCores: r(Math.max(0, b - me - pg)) };
  };
}

/**
 * CPU used by the PostgreSQL backends serving one server process's database, in cores: on a
 * machine shared with other work (tests on other databases), machineCpuMeter's PostgreSQL figure
 * counts theirs too; this one counts only the backends whose process title names the database in
 * the server's DATABASE_URL (backends that exit meanwhile are missed: connection pools keep theirs).
 * Undefined when the server has no DATABASE_URL (embedded).
 */
export function databaseCpuMeter(serverPid: number): (() => { cores: number; seconds: number }) | undefined {
  const environ = readFileSync(`/proc/${serverPid}/environ`, 'utf8').split('\0');
  const url = environ.find((e) => e.startsWith('DATABASE_URL='))?.slice('DATABASE_URL='.length);
  if (!url) return undefined;
  const title = ` ${new URL(url).pathname.slice(1)} `;
  const backends = () => {
    let sum = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(title)) continue;
        sum += cpuSeconds(Number(pid));
      } catch {
        /* exited */
      }
    }
    return sum;
  };
  const t0 = performance.now();
  const c0 = backends();
  return () => {
    const used = backends() - c0;
    return { seconds: +used.toFixed(2), cores: +(used / ((performance.now() - t0) / 1000)).toFixed(2) };
  };
}

/**
 * Connection attempts the kernel dropped because a listen queue was full (TcpExt ListenOverflows,
 * machine-wide): a dropped SYN is retried after 1, 3, 7 … s, so these show as long connect tails.
 */
export function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const names = lines.find((l) => l.startsWith('TcpExt:'))!.split(/\s+/);
    const values = lines.filter((l) => l.startsWith('TcpExt:'))[1]!.split(/\s+/);
    return Number(values[names.indexOf('ListenOverflows')]);
  } catch {
    return NaN;
  }
}
