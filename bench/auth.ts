/**
 * Auth benchmark: authenticated requests per second that ONE `taskyard serve --services auth`
 * process answers, for a client whose scopes come through 1,000 roles, measured from separate
 * load-generating processes over loopback. `npm run bench:auth -- --help` lists the options.
 * Not part of CI: it needs a PostgreSQL server and a machine otherwise idle.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Hawk from 'hawk';
import type { LoadPlan, LoadReport } from './auth-load.ts';
import { report } from './auth-report.ts';
import { BENCH_CLIENT_ID, buildWorld, type Credentials, roleId } from './auth-setup.ts';
import { summarizeProfile } from './cpuprofile.ts';
import {
  createDatabase,
  gitDescribe,
  machineCpuSeconds,
  migrate,
  postgresBackendPids,
  procCpuSeconds,
  procStatusKiB,
  repoRoot,
  runMain,
  type ServeProcess,
  startServe,
} from './harness.ts';

const ENDPOINTS = ['current-scopes', 'get-client', 'get-role', 'mix'] as const;
type Endpoint = (typeof ENDPOINTS)[number];

const HELP = `usage: npm run bench:auth -- [options]   (each option also has an environment variable)
  --workers N       load-generating processes (BENCH_WORKERS, default 1: the server needs the other core)
  --concurrency C   requests in flight per worker (BENCH_CONCURRENCY, default 64)
  --duration S      measured seconds (BENCH_DURATION, default 15), after --warmup S (BENCH_WARMUP, default 3)
  --endpoint E      current-scopes | get-client | get-role | mix (BENCH_ENDPOINT, default current-scopes)
  --roles N         roles the client's scopes come through (BENCH_ROLES, default 1000)
  --max-requests N  cap on requests per worker (BENCH_MAX_REQUESTS, default 5000000)
  --log-level L     the server's LOG_LEVEL (BENCH_LOG_LEVEL, default warn)
  --cpu-prof        restart the server after setup under node --cpu-prof and summarise the profile (BENCH_CPU_PROF=1)
PostgreSQL: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) gets a throwaway database.
RabbitMQ: BENCH_AMQP_URL, if set, is the server's AMQP_URL (otherwise events stay in the server process).`;

interface Options {
  workers: number;
  concurrency: number;
  duration: number;
  warmup: number;
  endpoint: Endpoint;
  roles: number;
  maxRequests: number;
  logLevel: string;
  cpuProf: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string' },
      concurrency: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      endpoint: { type: 'string' },
      roles: { type: 'string' },
      'max-requests': { type: 'string' },
      'log-level': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const env = process.env;
  const int = (name: string, raw: string | undefined, def: number, min: number, max: number) => {
    const n = raw === undefined || raw === '' ? def : Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
  const endpoint = (values.endpoint ?? env.BENCH_ENDPOINT ?? 'current-scopes') as Endpoint;
  if (!ENDPOINTS.includes(endpoint)) throw new Error(`--endpoint must be one of ${ENDPOINTS.join(', ')}`);
  return {
    // Upper bounds keep a typo from turning the benchmark into a flood or an afternoon.
    workers: int('--workers', values.workers ?? env.BENCH_WORKERS, 1, 1, 16),
    concurrency: int('--concurrency', values.concurrency ?? env.BENCH_CONCURRENCY, 64, 1, 4096),
    duration: int('--duration', values.duration ?? env.BENCH_DURATION, 15, 1, 600),
    warmup: int('--warmup', values.warmup ?? env.BENCH_WARMUP, 3, 0, 120),
    endpoint,
    roles: int('--roles', values.roles ?? env.BENCH_ROLES, 1000, 1, 10_000),
    maxRequests: int('--max-requests', values['max-requests'] ?? env.BENCH_MAX_REQUESTS, 5_000_000, 1, 1e8),
    logLevel: values['log-level'] ?? env.BENCH_LOG_LEVEL ?? 'warn',
    cpuProf: values['cpu-prof'] ?? ['1', 'true'].includes(env.BENCH_CPU_PROF ?? ''),
  };
}

function pathsFor(endpoint: Endpoint, roles: number): string[] {
  const current = '/api/auth/v1/scopes/current';
  const client = `/api/auth/v1/clients/${encodeURIComponent(BENCH_CLIENT_ID)}`;
  const rolePaths = Array.from({ length: roles }, (_, i) => `/api/auth/v1/roles/${roleId(i)}`);
  if (endpoint === 'current-scopes') return [current];
  if (endpoint === 'get-client') return [client];
  if (endpoint === 'get-role') return rolePaths;
  return rolePaths.flatMap((r) => [current, client, r]);
}

/** One signed request per distinct path kind, so a setup mistake fails here with the server's words. */
async function checkEndpoints(rootUrl: string, client: Credentials, paths: string[]): Promise<number[]> {
  const credentials = { id: client.clientId, key: client.accessToken, algorithm: 'sha256' as const };
  const sizes: number[] = [];
  for (const path of new Set(paths.slice(0, 3))) {
    const url = `${rootUrl}${path}`;
    const { header } = Hawk.client.header(url, 'GET', { credentials });
    const res = await fetch(url, { headers: { authorization: header } });
    const body = await res.text();
    if (!res.ok)
      throw new Error(`GET ${path} as ${client.clientId} answered ${res.status}: ${body.slice(0, 500)}`);
    sizes.push(Buffer.byteLength(body));
  }
  return sizes;
}

function startWorker(index: number): Promise<{ child: ChildProcess; report: Promise<LoadReport> }> {
  const child = fork(join(repoRoot, 'bench', 'auth-load.ts'), [], {
    cwd: repoRoot,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let onReady: () => void = () => {};
  const ready = new Promise<void>((res) => {
    onReady = res;
  });
  const report = new Promise<LoadReport>((resolve, reject) => {
    child.on('message', (m: { type: string; report?: LoadReport; message?: string }) => {
      if (m.type === 'ready') onReady();
      else if (m.type === 'report') resolve(m.report!);
      else reject(new Error(`load worker ${index} failed: ${m.message}`));
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`load worker ${index} ended without a report (${signal ?? `exit code ${code}`})`)),
    );
  });
  // Without this, a worker that dies before its first message leaves `ready` pending forever.
  report.catch(() => onReady());
  return ready.then(() => ({ child, report }));
}

function cpuDeltas(
  start:
    | { server: number; postgres: Map<number, number>; machine?: { busy: number; total: number } }
    | undefined,
  end: typeof start,
) {
  if (!start || !end) return {};
  let postgres = 0;
  for (const [pid, cpu] of end.postgres) postgres += Math.max(0, cpu - (start.postgres.get(pid) ?? 0));
  return {
    serverCpuSeconds: end.server - start.server,
    postgresCpuSeconds: postgres,
    machineCpu: end.machine &&
      start.machine && {
        busy: end.machine.busy - start.machine.busy,
        total: end.machine.total - start.machine.total,
      },
  };
}

async function main(): Promise<number> {
  const opts = parseOptions();
  // Undone in reverse order, once: Ctrl-C and the failure it causes in main() both ask for it,
  // and the database must not be dropped while the server is still stopping.
  const cleanups: Array<() => Promise<void>> = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (let f = cleanups.pop(); f; f = cleanups.pop()) {
        await f().catch((err: unknown) => console.error(`cleanup: ${(err as Error)?.message ?? err}`));
      }
    })();
    return cleaning;
  };
  process.once('SIGINT', () => {
    console.error('interrupted: stopping the server and dropping the database');
    void cleanup().finally(() => process.exit(130));
  });
  try {
    const adminUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
    const database = await createDatabase(adminUrl);
    cleanups.push(() => database.drop());
    console.log(`taskyard ${gitDescribe() ?? '(no git)'}; database ${database.name}: migrating`);
    migrate(database.url);

    const root = { clientId: 'static/taskcluster/root', accessToken: randomBytes(33).toString('base64url') };
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Settings from the caller's shell must not leak into the measured configuration.
    for (const k of Object.keys(env)) if (/^(TASKYARD_|AMQP_URL$|PORT$|NODE_OPTIONS$)/.test(k)) delete env[k];
    Object.assign(env, {
      DATABASE_URL: database.url,
      TASKYARD_HOST: '127.0.0.1',
      TASKYARD_ACCESS_TOKEN_KEY: randomBytes(32).toString('base64'),
      TASKYARD_STATIC_CLIENTS: JSON.stringify([{ ...root, scopes: ['*'] }]),
      LOG_LEVEL: opts.logLevel,
      ...(process.env.BENCH_AMQP_URL ? { AMQP_URL: process.env.BENCH_AMQP_URL } : {}),
    });
    let serve: ServeProcess = await startServe({ env });
    cleanups.push(() => serve.stop());
    console.log(
      `server pid ${serve.pid} at ${serve.rootUrl}; creating ${opts.roles} roles and ${BENCH_CLIENT_ID}`,
    );
    const world = await buildWorld(serve.rootUrl, root, opts.roles, (l) => console.log(l));
    console.log(
      `setup took ${world.setupSeconds.toFixed(1)} s; ${BENCH_CLIENT_ID} holds ${world.expandedScopeCount} scopes through roles`,
    );

    let profileDir: string | undefined;
    if (opts.cpuProf) {
      // A fresh process, so that the profile shows serving requests and not creating roles.
      profileDir = join(repoRoot, 'bench', 'results', `profile-${Date.now()}`);
      mkdirSync(profileDir, { recursive: true });
      await serve.stop();
      serve = await startServe({ env, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] });
      console.log(`restarted the server under --cpu-prof: pid ${serve.pid} at ${serve.rootUrl}`);
    }

    const paths = pathsFor(opts.endpoint, opts.roles);
    const sizes = await checkEndpoints(serve.rootUrl, world.client, paths);
    console.log(`response sizes: ${sizes.join(', ')} bytes`);
    if (opts.logLevel !== 'warn') {
      console.log(
        `note: server LOG_LEVEL=${opts.logLevel}; at info every request writes a log line to stdout`,
      );
    } else {
      console.log('note: server LOG_LEVEL=warn, so per-request logging (info) is off and not measured');
    }

    const workers = await Promise.all(Array.from({ length: opts.workers }, (_, i) => startWorker(i)));
    cleanups.push(async () => {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    });
    const startAt = Date.now() + 200;
    const measureFrom = startAt + opts.warmup * 1000;
    const endAt = measureFrom + opts.duration * 1000;
    // CPU counters at both ends of the window; PostgreSQL's share is that of this database's sessions.
    type CpuSample = {
      server: number;
      postgres: Map<number, number>;
      machine?: { busy: number; total: number };
    };
    const cpuAt: { start?: Promise<CpuSample>; end?: Promise<CpuSample> } = {};
    const sample = async (): Promise<CpuSample> => {
      const server = procCpuSeconds(serve.pid) ?? Number.NaN;
      const machine = machineCpuSeconds();
      const pids = await postgresBackendPids(adminUrl, database.name).catch(() => []);
      // A session that ended between the query and the read has no /proc entry: leave it out.
      const postgres = new Map<number, number>();
      for (const pid of pids) {
        const cpu = procCpuSeconds(pid);
        if (cpu !== undefined) postgres.set(pid, cpu);
      }
      return { server, machine, postgres };
    };
    setTimeout(() => (cpuAt.start = sample()), measureFrom - Date.now());
    setTimeout(() => (cpuAt.end = sample()), endAt - Date.now());
    for (const [i, w] of workers.entries()) {
      const plan: LoadPlan = {
        worker: i,
        rootUrl: serve.rootUrl,
        ...world.client,
        paths,
        concurrency: opts.concurrency,
        startAt,
        measureFrom,
        endAt,
        maxRequests: opts.maxRequests,
        drainTimeoutMs: 10_000,
      };
      w.child.send(plan);
    }
    console.log(
      `load: ${opts.workers} worker(s) x ${opts.concurrency} in flight, GET ${opts.endpoint}; ` +
        `${opts.warmup} s warm-up, then ${opts.duration} s measured`,
    );
    const reports = await Promise.all(workers.map((w) => w.report));
    const rssKiB = procStatusKiB(serve.pid, 'VmRSS');
    const peakRssKiB = procStatusKiB(serve.pid, 'VmHWM');
    const serverExit = serve.exited();
    await serve.stop();

    let profile: string[] | undefined;
    if (profileDir) {
      // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread; the other
      // one is tsx's module loader thread, which is idle once the server is up.
      const files = readdirSync(profileDir)
        .filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f))
        .map((f) => join(profileDir!, f));
      profile = files.length
        ? summarizeProfile(files[0], 20)
        : [`no .cpuprofile was written in ${profileDir}`];
    }
    const problems = report({
      options: opts,
      context: {
        setup: { roles: opts.roles, expandedScopes: world.expandedScopeCount, seconds: world.setupSeconds },
        responseBytes: sizes,
      },
      reports,
      ...cpuDeltas(await cpuAt.start, await cpuAt.end),
      peakRssKiB,
      rssKiB,
      serverExit,
      serverProblems: serve.problems,
      profile,
    });
    if (problems.length) {
      console.error(`\nFAILED:\n${problems.join('\n')}`);
      return 1;
    }
    return 0;
  } finally {
    await cleanup();
  }
}

runMain('bench:auth', main);
