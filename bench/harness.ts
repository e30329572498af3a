/**
 * Process and database plumbing for the benchmarks: a throwaway database, `taskyard migrate`,
 * a `taskyard serve` child, and what /proc says about it. Servers are started the way an
 * operator would (the CLI, as a separate process) so the figures include nothing a test harness
 * would skip.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Creates `taskyard_bench_<random>` on the server of `adminUrl`; drop() removes it. */
export async function createDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `taskyard_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} ENCODING 'UTF8'`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        // FORCE: a killed server may leave sessions behind, which would block the drop.
        await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export function migrate(databaseUrl: string): void {
  const res = spawnSync(process.execPath, [...CLI, 'migrate', '--database-url', databaseUrl], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (res.status !== 0) {
    throw new Error(`taskyard migrate failed (exit ${res.status}):\n${res.stdout}${res.stderr}`);
  }
}

export interface ServeProcess {
  pid: number;
  rootUrl: string;
  /** Lines the server logged at error level or above, or that were not log lines (stack traces). */
  problems: string[];
  /** Why the process ended, once it has. */
  exited(): string | undefined;
  stop(): Promise<void>;
}

const ECHO_LIMIT = 40;

/**
 * Starts `taskyard serve --services auth --port 0` and waits for its "Taskyard is up at" line
 * (see `startTaskyard`).
 */
export function startServe(opts: {
  env: NodeJS.ProcessEnv;
  nodeArgs?: string[];
  startTimeoutMs?: number;
}): Promise<ServeProcess> {
  return startTaskyard({ ...opts, args: ['serve', '--services', 'auth', '--port', '0'] });
}

/**
 * Starts a `taskyard` command line (`serve ...`, `up ...`) and waits for its "Taskyard is up at"
 * line. Its output is drained continuously (a full pipe would stall the server mid-benchmark)
 * and echoed to stderr, up to a limit. Problems: log lines at error level or above (pino writes
 * JSON to stdout), and anything on stderr that is not a log line (stack traces); plain stdout
 * lines are the command talking to its user (`taskyard up` prints where the credentials are).
 */
export async function startTaskyard(opts: {
  args: string[];
  env: NodeJS.ProcessEnv;
  nodeArgs?: string[];
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
}): Promise<ServeProcess> {
  const command = opts.args[0];
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...CLI, ...opts.args], {
    cwd: repoRoot,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const problems: string[] = [];
  let echoed = 0;
  let exitReason: string | undefined;
  const exitedPromise = new Promise<void>((res) => {
    child.once('exit', (code, signal) => {
      exitReason = signal ? `killed by ${signal}` : `exit code ${code}`;
      res();
    });
  });
  let upResolve: (url: string) => void = () => {};
  const up = new Promise<string>((res) => {
    upResolve = res;
  });
  const onLine = (line: string, stream: 'stdout' | 'stderr') => {
    const m = /Taskyard is up at (\S+)/.exec(line);
    if (m) upResolve(m[1]);
    const level = /"level":(\d+)/.exec(line);
    const informational = /^(SIG\w+: stopping|stopped$)/.test(line);
    if (
      (level && Number(level[1]) >= 50) ||
      (!level && stream === 'stderr' && !informational && line.trim())
    ) {
      if (problems.length < 50) problems.push(line);
    }
    // Truncated: pino prints whole error objects (a pg Client is several kB) on one line.
    const shown = line.length > 400 ? `${line.slice(0, 400)}... (${line.length} chars)` : line;
    if (echoed++ < ECHO_LIMIT) process.stderr.write(`[${command}] ${shown}\n`);
    else if (echoed === ECHO_LIMIT + 1) process.stderr.write(`[${command}] (further output not echoed)\n`);
  };
  createInterface({ input: child.stdout! }).on('line', (l) => onLine(l, 'stdout'));
  createInterface({ input: child.stderr! }).on('line', (l) => onLine(l, 'stderr'));

  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const rootUrl = await Promise.race([
    up,
    exitedPromise.then(() => {
      throw new Error(`taskyard ${command} ended before it was up (${exitReason}):\n${problems.join('\n')}`);
    }),
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`taskyard ${command} was not up after ${timeoutMs} ms`)),
        timeoutMs,
      ).unref(),
    ),
  ]).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });

  return {
    pid: child.pid!,
    rootUrl,
    problems,
    exited: () => exitReason,
    async stop() {
      if (exitReason) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), opts.stopGraceMs ?? 15_000);
      await exitedPromise;
      clearTimeout(killer);
    },
  };
}

/** A `Vm*` field of /proc/<pid>/status, in KiB (VmHWM: peak resident set; VmRSS: current). */
export function procStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS = (() => {
  const res = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(res.stdout?.trim()) || 100;
})();

/** CPU time (user + system) the process has used so far, in seconds. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is parenthesised and may itself hold spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

export function gitDescribe(): string | undefined {
  const res = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: repoRoot, encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : undefined;
}

/**
 * Busy and total CPU time of the whole machine so far, in seconds (summed over CPUs), from
 * /proc/stat. Set against the server's and load generators' own use, it shows how much CPU
 * other processes took during a run: on a shared 2-core machine that decides whether a figure
 * means anything.
 */
export function machineCpuSeconds(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const idle = f[3] + f[4];
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** Server processes of the PostgreSQL sessions connected to `database` (they share this machine). */
export async function postgresBackendPids(adminUrl: string, database: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const res = await client.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [database],
    );
    return res.rows.map((r) => r.pid);
  } finally {
    await client.end();
  }
}

/** Runs a benchmark's main function and exits with its code; an error ends it with exit 1. */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`${name} failed: ${(err as Error)?.stack ?? err}`);
      process.exit(1);
    },
  );
}

/**
 * Ends a forked child: disconnects it (it exits on 'disconnect', writing a `--cpu-prof` profile
 * if it was started with one) and kills it if it has not exited after `graceMs`.
 */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  if (child.connected) child.disconnect();
  else child.kill('SIGKILL');
  await exited;
  clearTimeout(timer);
}
