/**
 * The server under test of the queue benchmark, started as an operator would, as a child
 * process: `taskyard serve --services auth,queue` on an external PostgreSQL (and RabbitMQ), or
 * `taskyard up` with its embedded PostgreSQL in a fresh data directory, through
 * bench/harness.ts's startTaskyard.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTaskyard } from './harness.ts';
import type { Credentials } from './queue-http.ts';

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

/** A taskyard command line for the benchmark, with BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof ..."). */
function spawnTaskyard(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number) {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  return startTaskyard({ args, env, nodeArgs, startTimeoutMs: timeoutMs, stopGraceMs: 30_000 });
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
    pid: p.pid,
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
    pid: p.pid,
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
