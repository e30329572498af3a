/**
 * Turns the load generators' reports and what was sampled from /proc into the auth benchmark's
 * figures, its table, its list of problems (any of which fails the run) and its JSON record.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { LoadReport } from './auth-load.ts';
import { gitDescribe, repoRoot } from './harness.ts';
import { count, mergeInto, newHistogram, quantile } from './histogram.ts';

export const TARGET_RPS = 5000;

export interface RunFacts {
  options: { endpoint: string; workers: number; concurrency: number; duration: number; logLevel: string };
  /** Everything else worth keeping in the JSON record as it is. */
  context: Record<string, unknown>;
  reports: LoadReport[];
  /** CPU seconds used during the measured window: by the server, and by the whole machine. */
  serverCpuSeconds?: number;
  postgresCpuSeconds?: number;
  machineCpu?: { busy: number; total: number };
  peakRssKiB?: number;
  rssKiB?: number;
  serverExit?: string;
  serverProblems: string[];
  profile?: string[];
}

const ms = (micros: number) => (micros / 1000).toFixed(2);
const mib = (kib: number | undefined) => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);
const pct = (p: number | undefined) => (p === undefined ? 'n/a' : `${p.toFixed(0)}%`);

function printTable(header: string[], row: string[]): void {
  const widths = header.map((h, i) => Math.max(h.length, row[i].length));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  console.log(line(header));
  console.log(line(row));
}

/** Prints the figures, writes bench/results/auth-<time>.json and returns the problems found. */
export function report(facts: RunFacts): string[] {
  const { options: o, reports } = facts;
  const hist = newHistogram();
  for (const r of reports) mergeInto(hist, r.histogram);
  const sum = (f: (r: LoadReport) => number) => reports.reduce((a, r) => a + f(r), 0);
  const requests = sum((r) => r.requests);
  const failures = sum((r) => r.failures);
  const rps = sum((r) => r.ok) / o.duration;
  const latency = { p50: quantile(hist, 0.5), p90: quantile(hist, 0.9), p99: quantile(hist, 0.99) };
  // CPU in percent of one core, like top: 100% is a whole core.
  const perCore = (seconds: number) => (100 * seconds) / o.duration;
  const serverCpu = facts.serverCpuSeconds === undefined ? undefined : perCore(facts.serverCpuSeconds);
  const loadCpu = reports.map((r) => perCore((r.cpuUserMicros + r.cpuSystemMicros) / 1e6));
  const postgresCpu = facts.postgresCpuSeconds === undefined ? undefined : perCore(facts.postgresCpuSeconds);
  const machineBusy = facts.machineCpu ? perCore(facts.machineCpu.busy) : undefined;
  const machineCapacity = facts.machineCpu ? perCore(facts.machineCpu.total) : undefined;
  const others =
    machineBusy === undefined || serverCpu === undefined
      ? undefined
      : Math.max(0, machineBusy - serverCpu - (postgresCpu ?? 0) - loadCpu.reduce((a, b) => a + b, 0));

  console.log('');
  printTable(
    [
      'endpoint',
      'workers',
      'in flight',
      'requests',
      'req/s',
      'p50 ms',
      'p99 ms',
      'errors',
      'server CPU',
      'server peak RSS',
    ],
    [
      o.endpoint,
      String(o.workers),
      String(o.workers * o.concurrency),
      String(requests),
      rps.toFixed(0),
      ms(latency.p50),
      ms(latency.p99),
      String(failures),
      pct(serverCpu),
      mib(facts.peakRssKiB),
    ],
  );
  console.log('');
  console.log(`p90 ${ms(latency.p90)} ms; server RSS at end ${mib(facts.rssKiB)}`);
  console.log(
    `CPU during the window (100% = one core, of ${pct(machineCapacity)}): server ${pct(serverCpu)}, ` +
      `PostgreSQL sessions of the server ${pct(postgresCpu)}, load generator(s) ${loadCpu.map(pct).join(' + ')}, ` +
      `other programs ${pct(others)}`,
  );
  if (others !== undefined && others > 20) {
    console.log('WARNING: other processes used the CPUs during the run; the figure understates the server');
  }
  console.log(
    `${rps >= TARGET_RPS ? 'meets' : 'BELOW'} the target of ${TARGET_RPS} req/s (${cpus().length} CPUs)`,
  );

  const problems: string[] = [];
  if (failures > 0) {
    problems.push(
      `${failures} request(s) failed; the first ones:`,
      ...reports.flatMap((r) => r.failureSamples).slice(0, 10),
    );
  }
  if (count(hist) !== requests) problems.push('internal: the histogram and request counts differ');
  const unfinished = sum((r) => r.unfinished);
  if (unfinished > 0) problems.push(`${unfinished} request(s) were still unanswered 10 s after the end`);
  if (reports.some((r) => r.hitMaxRequests))
    problems.push('--max-requests was reached before --duration ended');
  if (facts.serverExit) problems.push(`the server ended during the run (${facts.serverExit})`);
  if (facts.serverProblems.length)
    problems.push('the server logged errors:', ...facts.serverProblems.slice(0, 10));

  if (facts.profile) console.log(`\n${facts.profile.join('\n')}`);
  const resultsDir = join(repoRoot, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `auth-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const record = {
    benchmark: 'auth',
    at: new Date().toISOString(),
    git: gitDescribe(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    options: o,
    ...facts.context,
    results: {
      requests,
      ok: sum((r) => r.ok),
      reqPerSec: rps,
      failures,
      latencyMs: { p50: latency.p50 / 1000, p90: latency.p90 / 1000, p99: latency.p99 / 1000 },
      responseBodyMiBPerSec: sum((r) => r.bytes) / 2 ** 20 / o.duration,
      statusCounts: reports.map((r) => r.statusCounts),
    },
    cpuPercentOfOneCore: {
      server: serverCpu,
      postgres: postgresCpu,
      loadGenerators: loadCpu,
      others,
      machineCapacity,
    },
    server: { peakRssKiB: facts.peakRssKiB, rssKiB: facts.rssKiB, logLevel: o.logLevel },
    problems,
    profile: facts.profile,
  };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
  return problems;
}
