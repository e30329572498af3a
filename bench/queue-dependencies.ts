/**
 * 4. Dependency latency: how long after the last dependency of a task is reported completed a
 * worker that is already waiting gets the task, for a chain, a fan-out and a fan-in. Figures by
 * this machine's clock (reportCompleted answered → claimWork answered) and, to separate the
 * dependency loop from claiming, by the server's (run `resolved` of the dependency → run
 * `scheduled` of the dependent).
 */

import { newTaskId, type TaskStatus, taskDefinition } from './queue-http.ts';
import {
  type BenchContext,
  createTasks,
  finishCreate,
  gate,
  maxOf,
  quantile,
  queueId,
  type ScenarioResult,
  scaled,
  settle,
  startWorkers,
  waitCompleted,
} from './queue-kit.ts';
import type { WorkResult } from './queue-load.ts';

function byTask(work: WorkResult) {
  const m = new Map<
    string,
    { claimedAt: number; completedAt: number; scheduled: number; resolved: number }
  >();
  work.taskIds.forEach((id, i) => {
    m.set(id, {
      claimedAt: work.claimedAt[i],
      completedAt: work.completedAt[i],
      scheduled: work.scheduled[i],
      resolved: work.resolved[i],
    });
  });
  return m;
}

function missing(what: string, ids: string[], seen: Map<string, unknown>): void {
  const lost = ids.filter((id) => !seen.has(id));
  if (lost.length) throw new Error(`${what}: ${lost.length} task(s) were never completed, e.g. ${lost[0]}`);
}

/** A chain of 1,000: each task depends on the one before; the first on a gate. */
export async function chain(ctx: BenchContext): Promise<ScenarioResult> {
  const n = scaled(ctx, 1000, 10);
  const taskQueueId = queueId(ctx, 'chain');
  const g = await gate(ctx, 'chain');
  ctx.log(`chain of ${n}: creating`);
  const created = await finishCreate(ctx, `creating a chain of ${n}`, [
    ctx.pool.run(0, {
      kind: 'create',
      spec: { taskQueueId, dependencies: [g.taskId] },
      count: n,
      concurrency: 1,
      chain: true,
    }),
  ]);
  const workers = startWorkers(ctx, taskQueueId, Math.min(ctx.opts.workers, ctx.opts.idleWorkers), 'chain');
  await settle(workers);
  ctx.log(`chain of ${n}: releasing`);
  const released = await g.release();
  await waitCompleted(ctx, workers, n, 'running the chain');
  const work = byTask(await workers.stop());
  missing('chain', created.taskIds, work);
  const client: number[] = [];
  const server: number[] = [];
  let prev = { completedAt: released.at, resolved: released.serverResolved };
  for (const id of created.taskIds) {
    const t = work.get(id)!;
    client.push(t.claimedAt - prev.completedAt);
    server.push(t.scheduled - prev.resolved);
    prev = t;
  }
  const total = (maxOf([...work.values()].map((t) => t.completedAt)) - released.at) / 1000;
  return {
    figures: [
      { name: 'chain: dependency → claimed p50', value: quantile(client, 0.5), unit: 'ms' },
      {
        name: 'chain: dependency → claimed p99',
        value: quantile(client, 0.99),
        unit: 'ms',
        target: { op: '<', value: 100 },
      },
      { name: 'chain: resolved → scheduled p99 (server)', value: quantile(server, 0.99), unit: 'ms' },
      { name: 'chain: whole chain', value: n / total, unit: 'tasks/s' },
    ],
    notes: [],
    details: { tasks: n, seconds: total },
  };
}

/** A 1→10,000 fan-out: every task depends on one gate. */
export async function fanOut(ctx: BenchContext): Promise<ScenarioResult> {
  const n = scaled(ctx, 10_000, 10);
  const taskQueueId = queueId(ctx, 'fan-out');
  const g = await gate(ctx, 'fan-out');
  ctx.log(`fan-out 1→${n}: creating`);
  const created = await createTasks(ctx, { taskQueueId, dependencies: [g.taskId] }, n);
  const workers = startWorkers(ctx, taskQueueId, ctx.opts.workers, 'fanout');
  await settle(workers);
  ctx.log(`fan-out 1→${n}: releasing to ${ctx.opts.workers} waiting workers`);
  const released = await g.release();
  await waitCompleted(ctx, workers, n, 'running the fan-out');
  const work = byTask(await workers.stop());
  missing('fan-out', created.taskIds, work);
  const all = [...work.values()];
  const client = all.map((t) => t.claimedAt - released.at);
  const server = all.map((t) => t.scheduled - released.serverResolved);
  return {
    figures: [
      {
        // Every dependent becomes claimable in one commit (the one resolving the gate, which
        // opens their gated pending entries), so the first claim is when all of them did.
        name: 'fan-out: completed → all claimable (first claimed)',
        value: client.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY),
        unit: 'ms',
        target: { op: '<', value: 100 },
      },
      { name: 'fan-out: dependency → claimed p50', value: quantile(client, 0.5), unit: 'ms' },
      { name: 'fan-out: dependency → claimed p99', value: quantile(client, 0.99), unit: 'ms' },
      { name: 'fan-out: resolved → scheduled p99 (server)', value: quantile(server, 0.99), unit: 'ms' },
    ],
    notes: [
      `fan-out: ${n} dependents for ${ctx.opts.workers} workers, so "dependency → claimed" includes waiting for a free worker; ` +
        'the target applies to the moment the dependents are claimable: the first claim after the gate completed ' +
        "(all become claimable in one commit: the gate's resolution opens their gated pending entries). " +
        '"scheduled" is the time their first run was added (by the dependency loop, or by the claim that came first).',
    ],
    details: { tasks: n, workers: ctx.opts.workers },
  };
}

/** A 10,000→1 fan-in: one task depends on 10,000 others, all run by waiting workers. */
export async function fanIn(ctx: BenchContext): Promise<ScenarioResult> {
  const n = scaled(ctx, 10_000, 10);
  const depQueue = queueId(ctx, 'fan-in-deps');
  const finalQueue = queueId(ctx, 'fan-in-final');
  ctx.log(`fan-in ${n}→1: creating`);
  // Nobody claims the dependencies until the dependent exists and its worker waits.
  const deps = await createTasks(ctx, { taskQueueId: depQueue }, n);
  const finalId = newTaskId();
  await ctx.http.ok(
    'PUT',
    `/task/${finalId}`,
    taskDefinition({ taskQueueId: finalQueue, dependencies: deps.taskIds }),
  );
  const finalWorkers = startWorkers(ctx, finalQueue, Math.min(2, ctx.opts.idleWorkers), 'fanin-final');
  await settle(finalWorkers);
  const depWorkers = startWorkers(ctx, depQueue, ctx.opts.workers, 'fanin-deps');
  ctx.log(`fan-in ${n}→1: ${ctx.opts.workers} workers run the dependencies`);
  await waitCompleted(ctx, depWorkers, n, 'running the fan-in dependencies');
  await waitCompleted(ctx, finalWorkers, 1, 'the fan-in task');
  const depWork = byTask(await depWorkers.stop());
  const finalWork = byTask(await finalWorkers.stop());
  missing('fan-in', deps.taskIds, depWork);
  missing('fan-in', [finalId], finalWork);
  const final = finalWork.get(finalId)!;
  const all = [...depWork.values()];
  const lastReport = maxOf(all.map((t) => t.completedAt));
  const lastResolved = maxOf(all.map((t) => t.resolved));
  // The dependent must not have been handed out before its last dependency was resolved.
  if (final.scheduled < lastResolved) {
    throw new Error(`fan-in: the dependent became pending before its last dependency was resolved`);
  }
  return {
    figures: [
      {
        name: 'fan-in: last dependency → claimed',
        value: final.claimedAt - lastReport,
        unit: 'ms',
        target: { op: '<', value: 1000 },
      },
      { name: 'fan-in: resolved → scheduled (server)', value: final.scheduled - lastResolved, unit: 'ms' },
    ],
    notes: [],
    details: { dependencies: n, workers: ctx.opts.workers },
  };
}

export type { TaskStatus };
