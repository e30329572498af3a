/**
 * Queue benchmark (`npm run bench`): how fast one Taskyard server creates, hands out and
 * resolves tasks, measured from separate load-generating processes over HTTP with Hawk, against
 * `taskyard serve` on PostgreSQL and RabbitMQ (or `taskyard up`), beside pgbench on the same
 * PostgreSQL. `npm run bench -- --help` lists the options; bench/README.md explains each figure.
 * Not part of CI: it needs PostgreSQL, RabbitMQ and a machine otherwise idle.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  createDatabase,
  gitDescribe,
  machineCpuSeconds,
  migrate,
  postgresBackendPids,
  procCpuSeconds,
  procStatusKiB,
  runMain,
} from './harness.ts';
import { chain, fanIn, fanOut } from './queue-dependencies.ts';
import { QueueEvents, redact } from './queue-events.ts';
import { runHttpFloor } from './queue-floor.ts';
import { QueueHttp } from './queue-http.ts';
import type { BenchContext, ScenarioOptions, ScenarioResult } from './queue-kit.ts';
import { type PgbenchResult, runPgbench } from './queue-pgbench.ts';
import { LoadPool } from './queue-pool.ts';
import { type CpuUse, printAndWrite, type ScenarioRecord } from './queue-report.ts';
import { bigGroup, claimLatency, createThroughput, lifecycle } from './queue-scenarios.ts';
import { descendantPids, startServeQueue, startUp, type TaskyardProcess } from './queue-server.ts';

const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<ScenarioResult>> = {
  create: createThroughput,
  lifecycle,
  claim: claimLatency,
  chain,
  'fan-out': fanOut,
  'fan-in': fanIn,
  group: bigGroup,
};
const ALL = ['pgbench', 'floor', ...Object.keys(SCENARIOS)];
const ALIASES: Record<string, string[]> = { dependencies: ['chain', 'fan-out', 'fan-in'], all: ALL };

const HELP = `usage: npm run bench -- [options]
  --scenario a,b      which to run, in this order: ${ALL.join(', ')} (also: dependencies = chain,fan-out,fan-in; default all)
  --scale F           multiplies every size (tasks, pgbench seconds); 0.01 is a smoke run of seconds (default 1)
  --up                measure \`taskyard up\` (embedded PostgreSQL in a fresh temporary data dir) instead of \`taskyard serve\`
  --no-amqp           \`taskyard serve\` with the in-process event bus (events are then not counted)
  --load-procs N      load-generating processes (default 2)
  --concurrency C     createTask requests in flight over all load processes; also pgbench's clients (default 64)
  --workers K         simulated workers (claimWork → reportCompleted) over all load processes (default 64)
  --idle-workers K    workers long-polling in the claim-latency and chain scenarios (default 16)
  --pacing MS         pause between creations in the claim-latency scenario (default 20)
  --pgbench-seconds S length of the pgbench run before scaling (default 15; at least 2)
  --stall S           fail a scenario that makes no progress for S seconds (default 60)
  --log-level L       the server's LOG_LEVEL (default warn: per-request info lines are not measured)
PostgreSQL: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) gets throwaway databases.
RabbitMQ: BENCH_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672).`;

interface Options extends ScenarioOptions {
  scenarios: string[];
  up: boolean;
  amqp: boolean;
  loadProcs: number;
  pgbenchSeconds: number;
  logLevel: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      scale: { type: 'string' },
      up: { type: 'boolean' },
      'no-amqp': { type: 'boolean' },
      'load-procs': { type: 'string' },
      concurrency: { type: 'string' },
      workers: { type: 'string' },
      'idle-workers': { type: 'string' },
      pacing: { type: 'string' },
      'pgbench-seconds': { type: 'string' },
      stall: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const int = (name: string, raw: string | undefined, def: number, min: number, max: number) => {
    const n = raw === undefined || raw === '' ? def : Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
  const scale = values.scale === undefined ? 1 : Number(values.scale);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 10)
    throw new Error('--scale must be a number above 0 and at most 10');
  const asked = (values.scenario ?? 'all')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const expanded = asked.flatMap((s) => ALIASES[s] ?? [s]);
  const unknown = expanded.filter((s) => !ALL.includes(s));
  if (unknown.length || expanded.length === 0) {
    throw new Error(
      `--scenario: unknown "${unknown.join(',') || values.scenario}"; known: ${ALL.join(', ')}, dependencies, all`,
    );
  }
  if (values.up && values['no-amqp'])
    throw new Error('--up always uses the in-process bus: leave out --no-amqp');
  return {
    scenarios: ALL.filter((s) => expanded.includes(s)),
    scale,
    up: values.up ?? false,
    amqp: !values.up && !values['no-amqp'],
    loadProcs: int('load-procs', values['load-procs'], 2, 1, 16),
    concurrency: int('concurrency', values.concurrency, 64, 1, 1024),
    workers: int('workers', values.workers, 64, 1, 1024),
    idleWorkers: int('idle-workers', values['idle-workers'], 16, 1, 1024),
    pacingMs: int('pacing', values.pacing, 20, 0, 10_000),
    pgbenchSeconds: int('pgbench-seconds', values['pgbench-seconds'], 15, 1, 600),
    stallMs: int('stall', values.stall, 60, 5, 3600) * 1000,
    logLevel: values['log-level'] ?? 'warn',
  };
}

async function main(): Promise<number> {
  const opts = parseOptions();
  const adminUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const amqpUrl = process.env.BENCH_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
  const log = (line: string) => console.log(line);
  // Undone in reverse order, once: Ctrl-C and the failure it causes both ask for it.
  const cleanups: Array<() => Promise<void> | void> = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (let f = cleanups.pop(); f; f = cleanups.pop()) {
        await Promise.resolve()
          .then(f)
          .catch((err: unknown) => console.error(`cleanup: ${(err as Error)?.message ?? err}`));
      }
    })();
    return cleaning;
  };
  process.once('SIGINT', () => {
    console.error('interrupted: stopping the server and load processes, dropping the databases');
    void cleanup().finally(() => process.exit(130));
  });

  const mode = opts.up ? 'up' : 'serve';
  const notes: string[] = [];
  const problems: string[] = [];
  const records: ScenarioRecord[] = [];
  let pgbench: PgbenchResult | undefined;
  let pgbenchError: string | undefined;
  let server: TaskyardProcess | undefined;
  try {
    console.log(
      `taskyard ${gitDescribe() ?? '(no git)'}: queue benchmark, ${mode}${mode === 'serve' ? (opts.amqp ? ` with RabbitMQ ${redact(amqpUrl)}` : ' with the in-process bus') : ''}, ` +
        `scale ${opts.scale}, scenarios ${opts.scenarios.join(', ')}`,
    );
    // pgbench first, while nothing else of ours runs.
    if (opts.scenarios.includes('pgbench')) {
      try {
        pgbench = await runPgbench({
          adminUrl,
          clients: opts.concurrency,
          seconds: Math.max(2, Math.round(opts.pgbenchSeconds * opts.scale)),
          scaleFactor: Math.max(1, Math.round(10 * opts.scale)),
          log,
        });
        notes.push(...pgbench.notes);
        console.log(`pgbench: ${pgbench.tps.toFixed(0)} write transactions/s`);
      } catch (err) {
        pgbenchError = (err as Error).message;
        problems.push(`pgbench: ${pgbenchError}`);
      }
    }
    // The HTTP floor next, also before the server starts.
    if (opts.scenarios.includes('floor') && problems.length === 0) {
      console.log('\n== floor');
      const record: ScenarioRecord = { name: 'floor' };
      records.push(record);
      try {
        record.result = await runHttpFloor({
          concurrency: opts.concurrency,
          seconds: Math.max(2, Math.round(10 * opts.scale)),
          log,
        });
      } catch (err) {
        record.error = (err as Error)?.message ?? String(err);
        problems.push(`floor: ${record.error}`);
      }
    }
    const scenarioNames = opts.scenarios.filter((s) => s !== 'pgbench' && s !== 'floor');
    if (scenarioNames.length > 0 && problems.length === 0) {
      let postgresPids: () => Promise<number[]>;
      if (opts.up) {
        console.log('starting taskyard up (embedded PostgreSQL, fresh data dir)');
        server = await startUp({ logLevel: opts.logLevel });
        const pid = server.pid;
        postgresPids = async () => descendantPids(pid);
        notes.push(
          '--up: PostgreSQL CPU is that of the embedded PostgreSQL (every process below the server)',
        );
      } else {
        const database = await createDatabase(adminUrl);
        cleanups.push(() => database.drop());
        console.log(`database ${database.name}: migrating`);
        migrate(database.url);
        server = await startServeQueue({
          databaseUrl: database.url,
          amqpUrl: opts.amqp ? amqpUrl : undefined,
          logLevel: opts.logLevel,
        });
        postgresPids = () => postgresBackendPids(adminUrl, database.name).catch(() => []);
        notes.push("PostgreSQL CPU is that of the server's sessions (not the WAL writer or checkpointer)");
      }
      const srv = server;
      cleanups.push(() => srv.stop());
      console.log(`server pid ${srv.pid} at ${srv.rootUrl}`);
      let events: QueueEvents | undefined;
      if (opts.amqp) {
        events = await QueueEvents.connect(amqpUrl);
        const ev = events;
        cleanups.push(() => ev.close());
      } else {
        notes.push('events are not counted: without RabbitMQ they are not observable outside the server');
      }
      const pool = await LoadPool.start(opts.loadProcs, srv.rootUrl, srv.root);
      cleanups.push(() => pool.close());
      const http = new QueueHttp(srv.rootUrl, srv.root, 8);
      cleanups.push(() => http.destroy());
      const ctx: BenchContext = {
        opts,
        http,
        pool,
        events,
        runId: randomBytes(4).toString('hex'),
        mode,
        checkServer() {
          const exit = srv.exited();
          if (exit) throw new Error(`the server ended (${exit}):\n${srv.problems.slice(0, 5).join('\n')}`);
          if (srv.problems.length)
            throw new Error(`the server logged an error:\n${srv.problems.slice(0, 5).join('\n')}`);
        },
        log: (line) => console.log(`  ${line}`),
      };

      const sample = async () => {
        const pids = await postgresPids();
        const postgres = new Map<number, number>();
        for (const pid of pids) {
          const cpu = procCpuSeconds(pid);
          if (cpu !== undefined) postgres.set(pid, cpu);
        }
        const own = process.cpuUsage();
        return {
          at: Date.now(),
          server: procCpuSeconds(srv.pid) ?? Number.NaN,
          postgres,
          load: await pool.cpuSeconds(),
          orchestrator: (own.user + own.system) / 1e6,
          machine: machineCpuSeconds(),
        };
      };
      for (const name of scenarioNames) {
        console.log(`\n== ${name}`);
        const before = await sample();
        const record: ScenarioRecord = { name };
        records.push(record);
        // Sessions come and go during a scenario (the pool closes idle connections and opens new
        // ones): each is sampled every second, so one that ended before the scenario did still
        // counts, up to its last sample.
        const sessions = new Map<number, number>(before.postgres);
        const watchSessions = setInterval(() => {
          void postgresPids().then((pids) => {
            for (const pid of pids) {
              const cpu = procCpuSeconds(pid);
              if (cpu !== undefined) sessions.set(pid, cpu);
            }
          });
        }, 1000);
        try {
          record.result = await SCENARIOS[name](ctx);
          ctx.checkServer();
        } catch (err) {
          record.error = (err as Error)?.message ?? String(err);
        } finally {
          clearInterval(watchSessions);
        }
        const after = await sample();
        for (const [pid, cpu] of after.postgres) sessions.set(pid, cpu);
        let postgres = 0;
        // A session that began during the scenario counts whole.
        for (const [pid, cpu] of sessions) postgres += Math.max(0, cpu - (before.postgres.get(pid) ?? 0));
        const cpu: CpuUse = {
          seconds: (after.at - before.at) / 1000,
          server: after.server - before.server,
          postgres,
          loadGenerators: after.load.map((c, i) => c - before.load[i]),
          orchestrator: after.orchestrator - before.orchestrator,
          machineBusy:
            after.machine && before.machine ? after.machine.busy - before.machine.busy : Number.NaN,
          machineCapacity:
            after.machine && before.machine ? after.machine.total - before.machine.total : Number.NaN,
        };
        record.cpu = cpu;
        record.peakRssKiB = procStatusKiB(srv.pid, 'VmHWM');
        if (record.error) {
          problems.push(`${name}: ${record.error}`);
          break;
        }
      }
      if (events && (events.malformed.length || events.duplicates)) {
        notes.push(
          `events: ${events.malformed.length} unreadable message(s), ${events.duplicates} repeated task-completed message(s)`,
        );
        if (events.malformed.length) problems.push(`unreadable event messages, e.g. ${events.malformed[0]}`);
      }
    }
    const peakRssKiB = server ? procStatusKiB(server.pid, 'VmHWM') : undefined;
    if (server?.exited()) problems.push(`the server ended during the run (${server.exited()})`);
    if (server?.problems.length) problems.push('the server logged errors:', ...server.problems.slice(0, 10));
    printAndWrite({
      options: { ...opts, stallMs: opts.stallMs },
      mode,
      pgbench,
      pgbenchError,
      scenarios: records,
      peakRssKiB,
      problems: [...new Set(problems)],
      notes,
    });
    if (problems.length) {
      console.error(`\nFAILED:\n${[...new Set(problems)].join('\n')}`);
      return 1;
    }
    return 0;
  } finally {
    await cleanup();
  }
}

runMain('bench (queue)', main);
