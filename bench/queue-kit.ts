/**
 * What the queue benchmark's scenarios share: their context, figures, creating tasks and running
 * simulated workers across the load processes, waiting without hanging, and statistics.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueEvents } from './queue-events.ts';
import {
  type Credentials,
  newTaskId,
  nowMs,
  type QueueHttp,
  type TaskSpec,
  type TaskStatus,
  taskDefinition,
} from './queue-http.ts';
import type { CreateResult, WorkResult } from './queue-load.ts';
import type { LoadPool, RunningJob } from './queue-pool.ts';

export interface ScenarioOptions {
  scale: number;
  /** createTask requests in flight, over all load processes. */
  concurrency: number;
  /** Simulated workers (claimWork → reportCompleted loops), over all load processes. */
  workers: number;
  /** Idle workers long-polling in the claim-latency scenario. */
  idleWorkers: number;
  /** Pause between creations in the claim-latency scenario. */
  pacingMs: number;
  /** A scenario fails when nothing progresses for this long. */
  stallMs: number;
}

export interface BenchContext {
  opts: ScenarioOptions;
  /** The orchestrator's own client, for setup calls (gates, a 10,000-dependency task). */
  http: QueueHttp;
  pool: LoadPool;
  /** undefined without RabbitMQ (`--no-amqp`, `--up`): events are not observable from outside. */
  events?: QueueEvents;
  /** Makes task queue ids unique to this run. */
  runId: string;
  /** `serve` or `up`: some targets differ. */
  mode: 'serve' | 'up';
  /** Throws when the server ended or logged an error (checked while waiting). */
  checkServer(): void;
  log(line: string): void;
}

export interface Target {
  op: '>=' | '<' | '<=';
  value: number;
}

export interface Figure {
  name: string;
  value: number;
  unit: 'tasks/s' | 'ms' | 's' | '×' | 'tasks' | 'req/s' | 'µs';
  target?: Target;
  /** A throughput: printed also as a ratio to pgbench's write transactions/s. */
  throughput?: boolean;
}

export interface ScenarioResult {
  figures: Figure[];
  notes: string[];
  /** Anything else worth keeping in the JSON record. */
  details: Record<string, unknown>;
}

export function meets(f: Figure): boolean | undefined {
  if (!f.target || !Number.isFinite(f.value)) return f.target ? false : undefined;
  const { op, value } = f.target;
  return op === '>=' ? f.value >= value : op === '<' ? f.value < value : f.value <= value;
}

/** A size scaled by --scale, never below `min`. */
export const scaled = (ctx: BenchContext, full: number, min: number): number =>
  Math.max(min, Math.round(full * ctx.opts.scale));

/** `n` split into `parts` near-equal whole numbers (zeros left out by callers). */
export function split(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

export const queueId = (ctx: BenchContext, name: string): string => `bench-${ctx.runId}/${name}`;

/**
 * Waits until `done()` is true, checking every 20 ms that the server and load processes are
 * alive and that no job failed; fails when `progress()` has not changed for --stall seconds.
 */
export async function waitFor(
  ctx: BenchContext,
  what: string,
  done: () => boolean,
  progress: () => string,
  jobs: Array<RunningJob<unknown>> = [],
): Promise<void> {
  let last = progress();
  let lastChange = Date.now();
  while (!done()) {
    ctx.checkServer();
    const dead = ctx.pool.failure();
    if (dead) throw new Error(`${what}: ${dead}`);
    const failed = jobs.find((j) => j.failures > 0);
    if (failed) throw new Error(`${what}: a request failed: ${failed.firstFailure ?? '(no detail)'}`);
    const now = progress();
    if (now !== last) {
      last = now;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > ctx.opts.stallMs) {
      throw new Error(`${what}: no progress for ${ctx.opts.stallMs / 1000} s (${now})`);
    }
    await sleep(20);
  }
}

function throwOnFailures(what: string, results: Array<{ failures: number; failureSamples: string[] }>) {
  const failures = results.reduce((a, r) => a + r.failures, 0);
  if (failures > 0) {
    throw new Error(
      `${what}: ${failures} request(s) failed; the first ones:\n${results
        .flatMap((r) => r.failureSamples)
        .slice(0, 10)
        .join('\n')}`,
    );
  }
}

/** Creates `count` tasks from every load process, `concurrency` in flight in all; merged results. */
export async function createTasks(
  ctx: BenchContext,
  spec: TaskSpec,
  count: number,
  concurrency = ctx.opts.concurrency,
): Promise<CreateResult> {
  const counts = split(count, ctx.pool.size);
  const lanes = split(concurrency, ctx.pool.size);
  const jobs = counts
    .map((n, proc) => ({ n, proc }))
    .filter(({ n }) => n > 0)
    .map(({ n, proc }) =>
      ctx.pool.run(proc, { kind: 'create', spec, count: n, concurrency: Math.max(1, lanes[proc]) }),
    );
  return finishCreate(ctx, `creating ${count} tasks on ${spec.taskQueueId}`, jobs);
}

export async function finishCreate(
  ctx: BenchContext,
  what: string,
  jobs: Array<RunningJob<CreateResult>>,
): Promise<CreateResult> {
  let finished = false;
  const all = Promise.all(jobs.map((j) => j.result)).finally(() => {
    finished = true;
  });
  all.catch(() => {});
  await waitFor(
    ctx,
    what,
    () => finished,
    () => String(jobs.reduce((a, j) => a + j.done, 0)),
    jobs,
  );
  const results = await all;
  throwOnFailures(what, results);
  const merged: CreateResult = {
    kind: 'create',
    taskIds: [],
    sentAt: [],
    doneAt: [],
    failures: 0,
    failureSamples: [],
  };
  for (const r of results) {
    merged.taskIds.push(...r.taskIds);
    merged.sentAt.push(...r.sentAt);
    merged.doneAt.push(...r.doneAt);
  }
  return merged;
}

export interface Workers {
  jobs: Array<RunningJob<WorkResult>>;
  /** Tasks completed so far (from progress messages, at most 100 ms old). */
  done(): number;
  /** Resolves once every simulated worker has sent its first claimWork. */
  polling: Promise<void>;
  /** Stops them (ending their long polls) and merges what they did. */
  stop(): Promise<WorkResult>;
}

/** `count` simulated workers on `taskQueueId`, spread over the load processes. */
export function startWorkers(ctx: BenchContext, taskQueueId: string, count: number, name: string): Workers {
  const jobs = split(count, ctx.pool.size)
    .map((n, proc) => ({ n, proc }))
    .filter(({ n }) => n > 0)
    .map(({ n, proc }) =>
      ctx.pool.run(proc, { kind: 'work', taskQueueId, workers: n, workerPrefix: `${name}-p${proc}` }),
    );
  return {
    jobs,
    done: () => jobs.reduce((a, j) => a + j.done, 0),
    polling: Promise.all(jobs.map((j) => j.polling)).then(() => {}),
    async stop() {
      for (const j of jobs) ctx.pool.stop(j);
      const results = await Promise.all(jobs.map((j) => j.result));
      throwOnFailures(`workers on ${taskQueueId}`, results);
      const merged: WorkResult = {
        kind: 'work',
        taskIds: [],
        claimedAt: [],
        completedAt: [],
        scheduled: [],
        resolved: [],
        emptyClaims: 0,
        failures: 0,
        failureSamples: [],
      };
      for (const r of results) {
        merged.taskIds.push(...r.taskIds);
        merged.claimedAt.push(...r.claimedAt);
        merged.completedAt.push(...r.completedAt);
        merged.scheduled.push(...r.scheduled);
        merged.resolved.push(...r.resolved);
        merged.emptyClaims += r.emptyClaims;
      }
      return merged;
    },
  };
}

/** Waits until the workers have completed `count` tasks in all. */
export function waitCompleted(
  ctx: BenchContext,
  workers: Workers,
  count: number,
  what: string,
): Promise<void> {
  return waitFor(
    ctx,
    what,
    () => workers.done() >= count,
    () => `${workers.done()} of ${count} completed`,
    workers.jobs,
  );
}

/**
 * Lets long polls that were just sent reach the server and start waiting. There is no API that
 * says a claimWork is waiting; a second is far more than a request takes to arrive on loopback.
 */
export async function settle(workers: Workers): Promise<void> {
  await workers.polling;
  await sleep(1000);
}

/**
 * A task the orchestrator creates and claims itself, on a queue of its own; `release()` reports
 * it completed, which makes its dependents ready. Returns when the report was answered, both by
 * this machine's clock and by the server's (the run's `resolved`).
 */
export async function gate(
  ctx: BenchContext,
  name: string,
): Promise<{ taskId: string; release(): Promise<{ at: number; serverResolved: number }> }> {
  const taskId = newTaskId();
  const taskQueueId = queueId(ctx, `gate-${name}`);
  await ctx.http.ok('PUT', `/task/${taskId}`, taskDefinition({ taskQueueId }));
  const claim = await ctx.http.ok<{ tasks: Array<{ runId: number }> }>(
    'POST',
    `/claim-work/${encodeURIComponent(taskQueueId)}`,
    { workerGroup: 'bench', workerId: `gate-${name}`, tasks: 1 },
  );
  if (claim.body.tasks.length !== 1) throw new Error(`the gate task ${taskId} could not be claimed`);
  const runId = claim.body.tasks[0].runId;
  return {
    taskId,
    async release() {
      const res = await ctx.http.ok<{ status: TaskStatus }>(
        'POST',
        `/task/${taskId}/runs/${runId}/completed`,
      );
      return { at: res.at, serverResolved: Date.parse(res.body.status.runs[runId].resolved ?? '') };
    },
  };
}

/** Exact quantile of a list of numbers (nearest rank); NaN for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  return finite[Math.min(finite.length - 1, Math.max(0, Math.ceil(q * finite.length) - 1))];
}

/**
 * Throughput of the first and the last 10% of events, and the first over the last: with `times`
 * the moments each one finished and `start` when the first one could begin.
 */
export function firstLastTenth(times: readonly number[], start: number) {
  const sorted = [...times].sort((a, b) => a - b);
  const n = sorted.length;
  const tenth = Math.max(1, Math.floor(n / 10));
  const first = tenth / Math.max(1e-3, (sorted[tenth - 1] - start) / 1000);
  const before = n - tenth - 1 >= 0 ? sorted[n - tenth - 1] : start;
  const last = tenth / Math.max(1e-3, (sorted[n - 1] - before) / 1000);
  return { first, last, degradation: first / last, tenth };
}

export const maxOf = (xs: readonly number[]): number =>
  xs.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
export const minOf = (xs: readonly number[]): number =>
  xs.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);

export { type Credentials, nowMs };
