/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per area
 * (Confab source, socket.io/engine.io/ws, pg, pglite, garbage collector, …).
 *   node --import tsx bench/lib/profile.ts <file.cpuprofile> [top=25] [callers-of-function, e.g. writev]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ProfileSummary } from './types.ts';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function area(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'V8/native (program)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.includes('/packages/server/src/')) return 'confab server';
  if (url.includes('/packages/protocol/')) return 'confab protocol';
  if (url.startsWith('node:')) return 'node core';
  if (url === '') return 'native';
  return 'other';
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const byFunction = new Map<string, { function: string; location: string; us: number; area: string }>();
  const byArea = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const fn = n.callFrame.functionName || '(anonymous)';
    const a = area(n.callFrame.url, fn);
    if (a === 'idle') {
      idle += us;
      continue;
    }
    total += us;
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|packages)\//, '$1/')}:${n.callFrame.lineNumber + 1}` : '';
    const key = `${fn}@${where}`;
    const entry = byFunction.get(key) ?? { function: fn, location: where, us: 0, area: a };
    entry.us += us;
    byFunction.set(key, entry);
    byArea.set(a, (byArea.get(a) ?? 0) + us);
  }
  const pct = (us: number) => +((100 * us) / Math.max(total, 1)).toFixed(1);
  void idle;
  return {
    file: path.relative(process.cwd(), file),
    totalMs: total / 1000,
    top: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({ function: e.function, location: e.location, selfMs: +(e.us / 1000).toFixed(1), selfPct: pct(e.us) })),
    byArea: [...byArea.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([a, us]) => ({ area: a, selfPct: pct(us) })),
  };
}

const frameName = (c: { functionName: string; url: string; lineNumber: number }) =>
  `${c.functionName || '(anonymous)'} ${c.url.replace(/^file:\/\/.*?\/(node_modules|packages)\//, '$1/')}:${c.lineNumber + 1}`;

/**
 * Inclusive time of Confab's own functions (self + everything they call), and the call paths
 * leading to one function (e.g. "writev"): where the time of a hot native function comes from.
 */
export function inclusive(file: string, opts: { callersOf?: string | undefined; top?: number } = {}): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  let total = 0;
  const incl = new Map<string, number>();
  const paths = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const leaf = byId.get(id)!;
    if (leaf.callFrame.functionName === '(idle)') continue;
    total += us;
    const seen = new Set<string>();
    const chain: string[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur)!.callFrame;
      const name = frameName(c);
      if ((c.url.includes('/packages/server/src/') || c.url.includes('/packages/server/dist/')) && !seen.has(name)) {
        seen.add(name);
        incl.set(name, (incl.get(name) ?? 0) + us);
      }
      if (opts.callersOf && cur !== id && chain.length < 8) chain.push(name);
    }
    if (opts.callersOf && leaf.callFrame.functionName === opts.callersOf) {
      const k = chain.join(' < ');
      paths.set(k, (paths.get(k) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((100 * us) / Math.max(total, 1)).toFixed(1)}%`.padStart(6);
  const out = ['inclusive time of Confab functions:'];
  for (const [k, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, opts.top ?? 25)) out.push(`${pct(us)}  ${k}`);
  if (opts.callersOf) {
    out.push(`call paths to ${opts.callersOf}:`);
    for (const [k, us] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, 10)) out.push(`${pct(us)}  ${k}`);
  }
  return out;
}

/** The newest .cpuprofile in a directory. */
export function newestProfile(dir: string): string | undefined {
  let best: { file: string; t: number } | undefined;
  try {
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.cpuprofile')) continue;
      const t = statSync(path.join(dir, f)).mtimeMs;
      if (!best || t > best.t) best = { file: path.join(dir, f), t };
    }
  } catch {
    return undefined;
  }
  return best?.file;
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const [file, n, callersOf] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node --import tsx bench/lib/profile.ts <file.cpuprofile> [top] [callers-of-function]');
    process.exit(2);
  }
  const s = summarizeProfile(file, Number(n ?? 25));
  console.log(`${s.file}: ${(s.totalMs / 1000).toFixed(1)} s of CPU sampled (idle excluded)`);
  console.log('by area:', s.byArea.map((a) => `${a.area} ${a.selfPct}%`).join(', '));
  for (const t of s.top) console.log(`${String(t.selfPct).padStart(5)}% ${String(Math.round(t.selfMs)).padStart(7)} ms  ${t.function}  ${t.location}`);
  for (const line of inclusive(file, { callersOf, top: 30 })) console.log(line);
}
