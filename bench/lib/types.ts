/** What a scenario gets from the runner and what it gives back. */
import type { TargetOptions } from './targets.ts';

export interface RunContext {
  quick: boolean;
  /** Start Confab with --cpu-prof (profiles land in bench/results/profiles/). */
  profile: boolean;
  /** The targets of `keys` selected with --only (all when not given), in order. */
  pick(keys: string[]): string[];
  /** Server start options per target key (profiling env etc.). */
  targetOptions(targetKey: string, label: string): TargetOptions;
  /** Called after a profiled target stopped: summarizes its profile into the results. */
  profiled(targetKey: string, label: string): Promise<ProfileSummary | undefined>;
}

export interface Check {
  /** What is checked, e.g. "S2 msgs/s on PostgreSQL". */
  what: string;
  target: string;
  measured: string;
  /** null: not measurable here (see note). */
  met: boolean | null;
  note?: string;
}

export interface Table {
  columns: string[];
  rows: Array<Array<string | number>>;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  top: Array<{ function: string; location: string; selfMs: number; selfPct: number }>;
  byArea: Array<{ area: string; selfPct: number }>;
}

export interface ScenarioResult {
  id: string;
  title: string;
  quick: boolean;
  startedAt: string;
  seconds: number;
  loadavg: { start: number[]; end: number[] };
  /** Average CPU use during the scenario, in cores: the bench's processes, PostgreSQL, everything else. */
  cpu?: { machineCores: number; benchCores: number; postgresCores: number; otherCores: number };
  params: Record<string, unknown>;
  tables: Array<{ caption?: string } & Table>;
  checks: Check[];
  notes: string[];
  profiles?: Record<string, ProfileSummary>;
  /** Everything measured, per target. */
  raw: unknown;
}

export type Scenario = (ctx: RunContext) => Promise<Omit<ScenarioResult, 'id' | 'title' | 'quick' | 'startedAt' | 'seconds' | 'loadavg'>>;

export const fmt = {
  int: (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'),
  ms: (n: number) => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US')} ms` : 'n/a'),
  ratio: (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : 'n/a'),
  kb: (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KB` : 'n/a'),
  mb: (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(0)} MB` : 'n/a'),
};
