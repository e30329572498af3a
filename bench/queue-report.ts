/**
 * The queue benchmark's output: one table of every figure with its target and its ratio to
 * pgbench, the CPU each scenario took, and the JSON record in bench/results/queue-<time>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { gitDescribe, repoRoot } from './harness.ts';
import { type Figure, meets, type ScenarioResult } from './queue-kit.ts';
import type { PgbenchResult } from './queue-pgbench.ts';

export interface CpuUse {
  seconds: number;
  /** CPU seconds in the scenario's window. */
  server: number;
  postgres: number;
  loadGenerators: number[];
  orchestrator: number;
  /** Busy CPU seconds of the whole machine, and its capacity (CPUs × seconds). */
  machineBusy: number;
  machineCapacity: number;
}

export interface ScenarioRecord {
  name: string;
  result?: ScenarioResult;
  error?: string;
  cpu?: CpuUse;
  peakRssKiB?: number;
}

const fmt = (f: Figure): string => {
  if (!Number.isFinite(f.value)) return 'n/a';
  const digits =
    f.unit === 'tasks/s' || f.unit === 'req/s' || f.unit === 'µs'
      ? 0
      : f.unit === 's' || f.unit === '×'
        ? 2
        : 1;
  return `${f.value.toFixed(digits)} ${f.unit}`;
};
const targetText = (f: Figure) => (f.target ? `${f.target.op} ${f.target.value} ${f.unit}` : '');
const pct = (seconds: number, window: number) =>
  Number.isFinite(seconds) ? `${((100 * seconds) / window).toFixed(0)}%` : 'n/a';

/** Prints rows as aligned columns: the first `leftColumns` left-aligned, the rest right-aligned. */
export function table(rows: string[][], leftColumns = 2): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows)
    console.log(r.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
}

export function printAndWrite(run: {
  options: Record<string, unknown>;
  mode: string;
  pgbench?: PgbenchResult;
  pgbenchError?: string;
  scenarios: ScenarioRecord[];
  peakRssKiB?: number;
  problems: string[];
  notes: string[];
}): string {
  const tps = run.pgbench?.tps;
  const rows = [['scenario', 'figure', 'value', 'target', '', '÷ pgbench']];
  for (const s of run.scenarios) {
    if (!s.result) {
      rows.push([s.name, `FAILED: ${(s.error ?? '').split('\n')[0].slice(0, 80)}`, '', '', '', '']);
      continue;
    }
    for (const f of s.result.figures) {
      const ok = meets(f);
      rows.push([
        s.name,
        f.name,
        fmt(f),
        targetText(f),
        ok === undefined ? '' : ok ? 'meets' : 'BELOW',
        f.throughput && tps ? `${(f.value / tps).toFixed(2)}×` : '',
      ]);
    }
  }
  console.log('');
  table(rows);
  console.log('');
  if (run.pgbench) {
    const p = run.pgbench;
    console.log(
      `pgbench -N: ${p.tps.toFixed(0)} write transactions/s, ${p.clients} clients, ${p.seconds} s, latency ${p.latencyMs.toFixed(1)} ms ` +
        `(PostgreSQL ${p.settings.server_version}, fsync=${p.settings.fsync}, synchronous_commit=on)`,
    );
  } else if (run.pgbenchError) {
    console.log(`pgbench: ${run.pgbenchError}`);
  }
  console.log('CPU per scenario (100% = one core; the whole scenario, its setup included):');
  for (const s of run.scenarios) {
    const c = s.cpu;
    if (!c) continue;
    const others = Math.max(
      0,
      c.machineBusy - c.server - c.postgres - c.orchestrator - c.loadGenerators.reduce((a, b) => a + b, 0),
    );
    console.log(
      `  ${s.name.padEnd(12)} ${c.seconds.toFixed(1)} s: server ${pct(c.server, c.seconds)}, PostgreSQL ${pct(c.postgres, c.seconds)}, ` +
        `load ${c.loadGenerators.map((l) => pct(l, c.seconds)).join(' + ')}, orchestrator ${pct(c.orchestrator, c.seconds)}, ` +
        `other programs ${pct(others, c.seconds)} (of ${pct(c.machineCapacity, c.seconds)})` +
        (others / c.seconds > 0.2 ? '  WARNING: the machine was not idle' : ''),
    );
  }
  if (run.peakRssKiB !== undefined)
    console.log(`server peak memory (VmHWM): ${(run.peakRssKiB / 1024).toFixed(0)} MiB`);
  for (const n of [...run.notes, ...run.scenarios.flatMap((s) => s.result?.notes ?? [])])
    console.log(`note: ${n}`);

  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `queue-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const record = {
    benchmark: 'queue',
    at: new Date().toISOString(),
    git: gitDescribe(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    mode: run.mode,
    options: run.options,
    pgbench: run.pgbench ?? { error: run.pgbenchError },
    scenarios: run.scenarios.map((s) => ({
      name: s.name,
      error: s.error,
      figures: s.result?.figures.map((f) => ({
        ...f,
        meetsTarget: meets(f),
        ratioToPgbench: f.throughput && tps ? f.value / tps : undefined,
      })),
      notes: s.result?.notes,
      details: s.result?.details,
      cpuSeconds: s.cpu,
      serverPeakRssKiBSoFar: s.peakRssKiB,
    })),
    server: { peakRssKiB: run.peakRssKiB },
    notes: run.notes,
    problems: run.problems,
  };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
  return file;
}
