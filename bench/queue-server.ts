/**
 * The server under test of the queue benchmark, started as an operator would, as a child
 * process: `taskyard serve --services auth,queue` on an external PostgreSQL (and RabbitMQ), or
 * `taskyard up` with its embedded PostgreSQL in a fresh data directory. (bench/harness.ts's
 * startServe runs the auth service alone; this is the same plumbing for any command line.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './harness.ts';
import type { Credentials } from './queue-http.ts';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const ECHO_LIMIT = 40;

export interface TaskyardProcess {
  pid: number;
  rootUrl: string;
  root: Credentials;
  /** Lines logged at error level or above, or that were not log lines (stack traces). */
  problems: string[];
  /** Why the process ended, once it has. */
  exited(): string | undefined;
  stop(): Promise<void>;
}

/** The environment of the caller, without settings that would change the measured configuration. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^(TASKYARD_|AMQP_URL$|DATABASE_URL$|PORT$|NODE_OPTIONS$|LOG_LEVEL$)/.test(k)) delete env[k];
  }
  // Settings to measure on purpose: BENCH_SERVER_TASKYARD_X=v runs the server with TASKYARD_X=v.
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('BENCH_SERVER_TASKYARD_')) env[k.slice('BENCH_SERVER_'.length)] = v;
  }
  return env;
}

async function spawnTaskyard(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{
  child: ChildProcess;
  rootUrl: string;
  problems: string[];
  exited(): string | undefined;
  stop(): Promise<void>;
}> {
  // BENCH_SERVER_NODE_ARGS: extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ...CLI, ...args], {
    cwd: repoRoot,
    env,
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
  // Problems: log lines at error level or above (pino writes JSON to stdout), and anything on
  // stderr that is not a log line (stack traces). Plain stdout lines are the command talking to
  // its user (`taskyard up` prints where the credentials are and what to try).
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
    const shown = line.length > 400 ? `${line.slice(0, 400)}... (${line.length} chars)` : line;
    if (echoed++ < ECHO_LIMIT) process.stderr.write(`[taskyard] ${shown}\n`);
    else if (echoed === ECHO_LIMIT + 1) process.stderr.write('[taskyard] (further output not echoed)\n');
  };
  createInterface({ input: child.stdout! }).on('line', (l) => onLine(l, 'stdout'));
  createInterface({ input: child.stderr! }).on('line', (l) => onLine(l, 'stderr'));
  const rootUrl = await Promise.race([
    up,
    exitedPromise.then(() => {
      throw new Error(`taskyard ${args[0]} ended before it was up (${exitReason}):\n${problems.join('\n')}`);
    }),
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`taskyard ${args[0]} was not up after ${timeoutMs} ms`)),
        timeoutMs,
      ).unref(),
    ),
  ]).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  const stop = async () => {
    if (exitReason) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exitedPromise;
    clearTimeout(killer);
  };
  return { child, rootUrl, problems, exited: () => exitReason, stop };
}

/** `taskyard serve --services auth,queue` with a random root client and the queue's static client. */
export async function startServeQueue(opts: {
  databaseUrl: string;
  amqpUrl?: string;
  logLevel: string;
}): Promise<TaskyardProcess> {
  const root = { clientId: 'static/taskcluster/root', accessToken: randomBytes(33).toString('base64url') };
  const queue = { clientId: 'static/taskcluster/queue', accessToken: randomBytes(33).toString('base64url') };
  const env = cleanEnv();
  Object.assign(env, {
    DATABASE_URL: opts.databaseUrl,
    TASKYARD_HOST: '127.0.0.1',
    TASKYARD_ACCESS_TOKEN_KEY: randomBytes(32).toString('base64'),
    TASKYARD_STATIC_CLIENTS: JSON.stringify([
      { ...root, scopes: ['*'] },
      { ...queue, scopes: ['*'] },
    ]),
    LOG_LEVEL: opts.logLevel,
    ...(opts.amqpUrl ? { AMQP_URL: opts.amqpUrl } : {}),
  });
  const p = await spawnTaskyard(['serve', '--services', 'auth,queue', '--port', '0'], env, 60_000);
  return {
    pid: p.child.pid!,
    rootUrl: p.rootUrl,
    root,
    problems: p.problems,
    exited: p.exited,
    stop: p.stop,
  };
}

/** `taskyard up` in a fresh temporary data directory (removed by stop()), root from credentials.json. */
export async function startUp(opts: { logLevel: string }): Promise<TaskyardProcess & { dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'taskyard-bench-up-'));
  // mkdtemp makes it 0700; run as root, the embedded PostgreSQL runs as another user that must pass through.
  chmodSync(dataDir, 0o711);
  const env = cleanEnv();
  env.LOG_LEVEL = opts.logLevel;
  let p: Awaited<ReturnType<typeof spawnTaskyard>>;
  try {
    p = await spawnTaskyard(['up', '--port', '0', '--data-dir', dataDir], env, 180_000);
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const creds = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')) as Credentials;
  return {
    pid: p.child.pid!,
    rootUrl: p.rootUrl,
    root: { clientId: creds.clientId, accessToken: creds.accessToken },
    problems: p.problems,
    exited: p.exited,
    dataDir,
    async stop() {
      await p.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every process below `pid` (for `taskyard up`: its embedded PostgreSQL and that one's backends). */
export function descendantPids(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(name), Number(rest[1]));
    } catch {
      // ended meanwhile
    }
  }
  const found: number[] = [];
  const frontier = [pid];
  while (frontier.length) {
    const p = frontier.pop()!;
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        found.push(child);
        frontier.push(child);
      }
    }
  }
  return found;
}
