/**
 * `npm run bench`: every scenario against Confab and the Socket.IO baselines, alternating within
 * each scenario, in one run. Results go to bench/results/latest.json (merged per scenario, each with
 * its run's machine, versions and command), bench/results/run-<id>.json, and docs/benchmarks.md.
 *
 *   npm run bench                                  # everything, full size (~15-20 min)
 *   npm run bench -- --scenario S2 --quick         # one scenario, short smoke run
 *   npm run bench -- --scenario S2,S4 --profile    # Confab under --cpu-prof; top self time in the results
 *   npm run bench -- --quick --no-docs             # don't touch docs/benchmarks.md
 *   npm run bench -- --docs-only                   # re-render docs/benchmarks.md from latest.json
 *   npm run bench -- --scenario S2 --only confab-postgres --profile   # one target only
 *
 * Loopback only; every scenario is bounded in connections and time and stops by itself. Each runs in
 * its own process (a fresh generator heap), killed with its servers by a watchdog if it overruns. Run through `npm run bench` (bench/run.sh raises the open-file
 * limit as far as the hard limit allows; Node cannot call setrlimit itself).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkInstalled } from './lib/ejabberd.ts';
import { machineInfo, versions } from './lib/machine.ts';
import { log, machineCpuMeter } from './lib/proc.ts';
import { newestProfile, summarizeProfile } from './lib/profile.ts';
import { renderMarkdown, type ResultsFile, type RunRecord } from './lib/report.ts';
import type { RunContext, Scenario, ScenarioResult } from './lib/types.ts';
import { s1 } from './scenarios/s1.ts';
import { s2 } from './scenarios/s2.ts';
import { s3 } from './scenarios/s3.ts';
import { s4 } from './scenarios/s4.ts';
import { s5 } from './scenarios/s5.ts';
import { s6 } from './scenarios/s6.ts';

const SCENARIOS: Record<string, { title: string; run: Scenario; budgetMinutes: number }> = {
  S1: { title: 'Authenticated idle connections and memory per connection', run: s1, budgetMinutes: 15 },
  S2: { title: '1:1 messages committed before ack: msgs/s at p99 ≤ 100 ms', run: s2, budgetMinutes: 20 },
  S3: { title: 'Group fan-out: deliveries/s in rooms of 10 / 100 / 1,000', run: s3, budgetMinutes: 10 },
  S4: { title: 'Latency at a fixed rate (2K sends/s × 20 members) and event-loop lag', run: s4, budgetMinutes: 10 },
  S5: { title: 'Restart and reconnect storm', run: s5, budgetMinutes: 10 },
  S6: { title: 'Concurrent AI streams', run: s6, budgetMinutes: 10 },
};

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    'no-docs': { type: 'boolean', default: false },
    'docs-only': { type: 'boolean', default: false },
    // Internal: run one scenario in this process and write its result to a file.
    child: { type: 'string' },
    'result-file': { type: 'string' },
    'run-id': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]);
  process.exit(0);
}
if (values['docs-only']) {
  // Re-render docs/benchmarks.md from bench/results/latest.json (after editing intro.md or analysis.md).
  const rootDir = fileURLToPath(new URL('..', import.meta.url));
  const read = (f: string) => readFileSync(path.join(rootDir, f), 'utf8');
  const results = JSON.parse(read('bench/results/latest.json')) as ResultsFile;
  writeFileSync(path.join(rootDir, 'docs/benchmarks.md'), renderMarkdown(results, read('bench/lib/intro.md'), read('bench/lib/analysis.md')));
  log('docs/benchmarks.md written from bench/results/latest.json');
  process.exit(0);
}
const selected = (values.scenario ?? Object.keys(SCENARIOS)).flatMap((s) => s.split(',')).map((s) => s.trim().toUpperCase());
for (const id of selected) if (!SCENARIOS[id]) throw new Error(`unknown scenario ${id} (known: ${Object.keys(SCENARIOS).join(', ')})`);

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = path.join(root, 'bench/results');
const runId = values['run-id'] ?? new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
const args = process.argv.slice(2);
const command = process.env.npm_lifecycle_event === 'bench' ? `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}` : `node --import tsx bench/run.ts ${args.join(' ')}`.trim();
mkdirSync(resultsDir, { recursive: true });

const cpuProfPreload = fileURLToPath(new URL('./lib/cpu-prof.mjs', import.meta.url));
const profileDir = (key: string, label: string) => path.join(resultsDir, 'profiles', runId, `${label}-${key}`);
const only = values.only?.flatMap((s) => s.split(',')).map((s) => s.trim());
/**
 * A full run without Debian's ejabberd leaves that peer out (and says so) rather than failing the
 * scenario; asked for by name (--only), a missing ejabberd fails with the packages to install.
 */
let ejabberdMissing: string | undefined;
function ejabberdInstalled(): boolean {
  if (ejabberdMissing === undefined) {
    try {
      checkInstalled();
      ejabberdMissing = '';
    } catch (error) {
      ejabberdMissing = (error as Error).message;
      log(`${ejabberdMissing}; the ejabberd peer is left out of this run`);
    }
  }
  return ejabberdMissing === '';
}
const ctx: RunContext = {
  quick: values.quick,
  profile: values.profile,
  pick: (keys) => (only ? keys.filter((k) => only.includes(k)) : keys.filter((k) => k !== 'ejabberd-postgres' || ejabberdInstalled())),
  targetOptions(key, label) {
    if (!values.profile || !key.startsWith('confab')) return {};
    const dir = profileDir(key, label);
    mkdirSync(dir, { recursive: true });
    return { env: { NODE_OPTIONS: `--import ${cpuProfPreload}`, BENCH_CPU_PROF_DIR: dir } };
  },
  async profiled(key, label) {
    if (!values.profile || !key.startsWith('confab')) return undefined;
    const file = newestProfile(profileDir(key, label));
    return file ? summarizeProfile(file) : undefined;
  },
};

// ---- Child mode: one scenario, in a fresh process (so one scenario's garbage, e.g. S1's 19K
// sockets, cannot pause the generator of the next one) ----
if (values.child) {
  const spec = SCENARIOS[values.child]!;
  const r = await spec.run(ctx);
  writeFileSync(values['result-file']!, JSON.stringify(r));
  process.exit(0);
}

/** Runs one scenario in a child process (its own process group), killed with its servers if it overruns. */
function runChild(id: string, budgetMinutes: number): Promise<Awaited<ReturnType<Scenario>>> {
  const resultFile = path.join(os.tmpdir(), `confab-bench-${runId}-${id}.json`);
  const childArgs = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', id, '--result-file', resultFile, '--run-id', runId];
  if (values.quick) childArgs.push('--quick');
  if (values.profile) childArgs.push('--profile');
  if (only) childArgs.push('--only', only.join(','));
  const child = spawn(process.execPath, childArgs, { stdio: 'inherit', detached: true });
  return new Promise((resolve, reject) => {
    const watchdog = setTimeout(() => {
      log(`${id} overran its ${budgetMinutes} min budget: stopping it`);
      try {
        process.kill(-child.pid!, 'SIGTERM');
        setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 5000).unref();
      } catch {
        /* gone */
      }
    }, budgetMinutes * 60_000);
    const stop = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    process.once('exit', stop);
    child.once('exit', (code, signal) => {
      clearTimeout(watchdog);
      process.off('exit', stop);
      if (code !== 0) return reject(new Error(`scenario process exited with ${code ?? signal}`));
      try {
        resolve(JSON.parse(readFileSync(resultFile, 'utf8')) as Awaited<ReturnType<Scenario>>);
      } catch (error) {
        reject(error as Error);
      } finally {
        rmSync(resultFile, { force: true });
      }
    });
  });
}

const record: RunRecord = { runId, startedAt: new Date().toISOString(), command, quick: values.quick, profile: values.profile, machine: machineInfo(), versions: await versions() };
log(`run ${runId}: ${selected.join(', ')}${values.quick ? ' (quick)' : ''}; load average ${record.machine.loadavg.join(' / ')}`);
if (record.machine.loadavg[0]! > 1.5) log('warning: the machine is busy; numbers will be noisy');

const latestFile = path.join(resultsDir, 'latest.json');
const latest: ResultsFile = (() => {
  try {
    return JSON.parse(readFileSync(latestFile, 'utf8')) as ResultsFile;
  } catch {
    return { runs: {}, scenarios: {} };
  }
})();
const thisRun: ScenarioResult[] = [];

let failed = false;
for (const id of selected) {
  const spec = SCENARIOS[id]!;
  const startedAt = new Date().toISOString();
  const loadStart = os.loadavg().map((l) => +l.toFixed(2));
  const t0 = performance.now();
  log(`${id}: ${spec.title}`);
  const cpu = machineCpuMeter();
  try {
    const r = await runChild(id, spec.budgetMinutes);
    const usage = cpu();
    log(`${id}: CPU in cores: bench ${usage.benchCores}, PostgreSQL ${usage.postgresCores}, other processes ${usage.otherCores}`);
    const result: ScenarioResult = {
      id,
      title: spec.title,
      quick: values.quick,
      startedAt,
      seconds: +((performance.now() - t0) / 1000).toFixed(1),
      loadavg: { start: loadStart, end: os.loadavg().map((l) => +l.toFixed(2)) },
      cpu: usage,
      ...r,
    };
    thisRun.push(result);
    // A run restricted with --only is not a comparison: it stays out of latest.json and the docs.
    // A --quick result does not replace a full one there either (it stays in run-<id>.json).
    if (!only && !(values.quick && latest.scenarios[id] && !latest.scenarios[id].quick)) {
      latest.scenarios[id] = { ...result, runId };
      latest.runs[runId] = record;
    }
    for (const c of result.checks) log(`${id} ${c.met === null ? '–' : c.met ? 'MET ' : 'MISS'} ${c.what}: target ${c.target}, measured ${c.measured}`);
  } catch (error) {
    failed = true;
    log(`${id} failed:`, error);
  }
}

// Drop runs no scenario refers to any more.
const used = new Set(Object.values(latest.scenarios).map((s) => s.runId));
for (const id of Object.keys(latest.runs)) if (!used.has(id)) delete latest.runs[id];
writeFileSync(path.join(resultsDir, `run-${runId}.json`), JSON.stringify({ run: record, scenarios: thisRun }, null, 2));
writeFileSync(latestFile, JSON.stringify(latest, null, 2));
log(`results: ${path.relative(root, latestFile)}, bench/results/run-${runId}.json`);

if (!values['no-docs'] && !only && thisRun.length > 0) {
  const intro = readFileSync(path.join(root, 'bench/lib/intro.md'), 'utf8');
  const analysis = readFileSync(path.join(root, 'bench/lib/analysis.md'), 'utf8');
  writeFileSync(path.join(root, 'docs/benchmarks.md'), renderMarkdown(latest, intro, analysis));
  log('docs/benchmarks.md written');
}
process.exit(failed ? 1 : 0);
