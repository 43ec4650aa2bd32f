/** Writes docs/benchmarks.md from the results file. */
import type { MachineInfo, Versions } from './machine.ts';
import type { ScenarioResult } from './types.ts';

export interface RunRecord {
  runId: string;
  startedAt: string;
  command: string;
  quick: boolean;
  profile: boolean;
  machine: MachineInfo;
  versions: Versions;
}

export interface ResultsFile {
  /** The run each scenario's latest result came from. */
  runs: Record<string, RunRecord>;
  scenarios: Record<string, ScenarioResult & { runId: string }>;
}

const esc = (v: string | number) => String(v).replace(/\|/g, '\\|');

function table(columns: string[], rows: Array<Array<string | number>>): string {
  return [`| ${columns.map(esc).join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

const ORDER = ['S1', 'S2', 'S3', 'S4', 'S5', 'S6'];

export function renderMarkdown(results: ResultsFile, intro: string, analysis = ''): string {
  const out: string[] = [];
  out.push('# Benchmarks', '', intro.trim(), '');
  const scenarios = ORDER.map((id) => results.scenarios[id]).filter((s): s is ResultsFile['scenarios'][string] => s !== undefined);
  const runIds = [...new Set(scenarios.map((s) => s.runId))];

  out.push('## Targets and results', '');
  out.push(
    table(
      ['scenario', 'check', 'target', 'measured', 'met'],
      scenarios.flatMap((s) => s.checks.map((c) => [s.id, c.what.replace(/^S\d /, ''), c.target, c.measured, c.met === null ? '–' : c.met ? 'yes' : '**no**'])),
    ),
  );
  out.push('');
  const busy = (s: ResultsFile['scenarios'][string]) => (s.cpu ? s.cpu.otherCores > 0.25 : s.loadavg.start[0]! > 1.5);
  const conditions = scenarios.filter((s) => s.quick || busy(s));
  if (conditions.length > 0) {
    out.push(
      `> **Read with care:** ${conditions
        .map((s) => `${s.id} ${s.quick ? 'is a --quick run (short, small counts)' : ''}${s.quick && busy(s) ? ', ' : ''}${busy(s) ? `was measured while other processes used ${s.cpu ? `${s.cpu.otherCores} cores on average` : `the machine (load average ${s.loadavg.start[0]} at its start)`}` : ''}`)
        .join('; ')}.`,
      '',
    );
  }

  for (const s of scenarios) {
    out.push(`## ${s.id}: ${s.title}`, '');
    out.push(
      `Run \`${s.runId}\`${s.quick ? ' (**quick**)' : ''}, ${s.startedAt}, ${s.seconds.toFixed(0)} s; load average at start ${s.loadavg.start.join(' / ')}, at end ${s.loadavg.end.join(' / ')}` +
        (s.cpu ? `; CPU (cores used on average): bench ${s.cpu.benchCores}, PostgreSQL ${s.cpu.postgresCores}, **other processes ${s.cpu.otherCores}**.` : '.'),
      '',
    );
    out.push(`Parameters: ${Object.entries(s.params).map(([k, v]) => `${k} = ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('; ')}.`, '');
    for (const t of s.tables) {
      if (t.caption) out.push(`**${t.caption}**`, '');
      out.push(table(t.columns, t.rows), '');
    }
    const missed = s.checks.filter((c) => c.met === false || c.note);
    if (missed.length > 0) {
      for (const c of missed) out.push(`- ${c.met === false ? `**Missed** (${c.what}): target ${c.target}, measured ${c.measured}.` : `${c.what}:`}${c.note ? ` ${c.note}` : ''}`);
      out.push('');
    }
    for (const n of s.notes) out.push(`- ${n}`);
    if (s.notes.length > 0) out.push('');
    for (const [key, p] of Object.entries(s.profiles ?? {})) {
      out.push(`**CPU profile, ${key}** (\`${p.file}\`, ${(p.totalMs / 1000).toFixed(1)} s sampled): by area ${p.byArea.map((a) => `${a.area} ${a.selfPct}%`).join(', ')}.`, '');
      out.push(table(['self %', 'self ms', 'function', 'where'], p.top.slice(0, 12).map((t) => [`${t.selfPct}%`, Math.round(t.selfMs), t.function, t.location])), '');
    }
  }

  if (analysis.trim()) out.push(analysis.trim(), '');
  out.push('## Machine, versions, command', '');
  for (const id of runIds) {
    const r = results.runs[id]!;
    out.push(`### Run \`${id}\` (${scenarios.filter((s) => s.runId === id).map((s) => s.id).join(', ')})`, '');
    out.push(`- Command: \`${r.command}\`${r.quick ? ' (quick)' : ''}${r.profile ? ' (with --profile: Confab ran under --cpu-prof, which costs it some speed)' : ''}`);
    out.push(`- Started ${r.startedAt}; load average at start ${r.machine.loadavg.join(' / ')}`);
    out.push(`- Machine: ${r.machine.cpuModel}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB RAM, ${r.machine.os}, Linux ${r.machine.kernel}; open files ${r.machine.openFilesLimit}`);
    out.push(`- Commit ${r.versions.commit ?? 'unknown'}`);
    out.push(`- Node ${r.versions.node}; PostgreSQL ${r.versions.postgres}; Redis ${r.versions.redis}`);
    out.push(`- Packages: ${Object.entries(r.versions.packages).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    out.push('');
  }
  return out.join('\n');
}
