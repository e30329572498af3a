/**
 * The queue benchmark's throughput and latency scenarios (the dependency ones are in
 * queue-dependencies.ts). Each returns its figures; sizes are at --scale 1.
 */

import { newTaskId } from './queue-http.ts';
import {
  type BenchContext,
  createTasks,
  type Figure,
  firstLastTenth,
  maxOf,
  minOf,
  nowMs,
  quantile,
  queueId,
  type ScenarioResult,
  scaled,
  settle,
  startWorkers,
  waitCompleted,
  waitFor,
} from './queue-kit.ts';

const EVENT_WAIT_NOTE =
  'events: not observable without RabbitMQ (--no-amqp, --up); measured to the last reportCompleted answer instead';

/** 1. createTask throughput: 20,000 independent tasks (each its own group), nobody claiming them. */
export async function createThroughput(ctx: BenchContext): Promise<ScenarioResult> {
  const n = scaled(ctx, 20_000, 10);
  ctx.log(`creating ${n} tasks, ${ctx.opts.concurrency} in flight`);
  const r = await createTasks(ctx, { taskQueueId: queueId(ctx, 'create') }, n);
  const seconds = (maxOf(r.doneAt) - minOf(r.sentAt)) / 1000;
  const latency = r.doneAt.map((d, i) => d - r.sentAt[i]);
  return {
    figures: [
      {
        name: 'createTask',
        value: n / seconds,
        unit: 'tasks/s',
        target: { op: '>=', value: 1500 },
        throughput: true,
      },
      { name: 'createTask latency p50', value: quantile(latency, 0.5), unit: 'ms' },
      { name: 'createTask latency p99', value: quantile(latency, 0.99), unit: 'ms' },
    ],
    notes: [],
    details: { tasks: n, seconds },
  };
}

/**
 * 2. Full lifecycle: 10,000 tasks created while simulated workers claim and complete them, from
 * the first createTask sent to the last task-completed message received over RabbitMQ.
 */
export async function lifecycle(ctx: BenchContext): Promise<ScenarioResult> {
  const n = scaled(ctx, 10_000, 10);
  const taskQueueId = queueId(ctx, 'lifecycle');
  const workers = startWorkers(ctx, taskQueueId, ctx.opts.workers, 'life');
  await settle(workers);
  ctx.log(
    `lifecycle of ${n} tasks: ${ctx.opts.concurrency} creations in flight, ${ctx.opts.workers} workers`,
  );
  const created = await createTasks(ctx, { taskQueueId }, n);
  await waitCompleted(ctx, workers, n, 'lifecycle');
  const work = await workers.stop();
  const start = minOf(created.sentAt);
  const lastReport = maxOf(work.completedAt);
  const target = ctx.mode === 'up' ? 500 : 1000;
  const figures: Figure[] = [];
  const notes: string[] = [];
  const details: Record<string, unknown> = {
    tasks: n,
    workers: ctx.opts.workers,
    emptyClaims: work.emptyClaims,
  };
  const events = ctx.events;
  if (events) {
    await waitFor(
      ctx,
      'task-completed messages of the lifecycle',
      () => events.completedOf(created.taskIds).count === n,
      () => `${events.completedOf(created.taskIds).count} of ${n} task-completed messages`,
    );
    const { last } = events.completedOf(created.taskIds);
    const lag = work.taskIds.map((id, i) => (events.completed.get(id) ?? Number.NaN) - work.completedAt[i]);
    figures.push(
      {
        name: 'lifecycle, to last event',
        value: n / ((last - start) / 1000),
        unit: 'tasks/s',
        target: { op: '>=', value: target },
        throughput: true,
      },
      {
        name: 'lifecycle, to last report',
        value: n / ((lastReport - start) / 1000),
        unit: 'tasks/s',
        throughput: true,
      },
      { name: 'event after report p50', value: quantile(lag, 0.5), unit: 'ms' },
      { name: 'event after report p99', value: quantile(lag, 0.99), unit: 'ms' },
    );
    details.eventsDelivered = n;
  } else {
    figures.push({
      name: 'lifecycle, to last report',
      value: n / ((lastReport - start) / 1000),
      unit: 'tasks/s',
      target: { op: '>=', value: target },
      throughput: true,
    });
    notes.push(EVENT_WAIT_NOTE);
  }
  const claimToReport = work.completedAt.map((c, i) => c - work.claimedAt[i]);
  figures.push({ name: 'reportCompleted latency p99', value: quantile(claimToReport, 0.99), unit: 'ms' });
  return { figures, notes, details };
}

/**
 * 3. Claim latency: idle workers long-poll; tasks are created one at a time, --pacing ms apart;
 * from the createTask answer to the claimWork answer that hands the task out.
 */
export async function claimLatency(ctx: BenchContext): Promise<ScenarioResult> {
  const n = scaled(ctx, 1000, 20);
  const taskQueueId = queueId(ctx, 'claim-latency');
  const workers = startWorkers(ctx, taskQueueId, ctx.opts.idleWorkers, 'idle');
  await settle(workers);
  ctx.log(
    `claim latency: ${n} tasks, one every ${ctx.opts.pacingMs} ms, ${ctx.opts.idleWorkers} idle workers`,
  );
  const job = ctx.pool.run(0, {
    kind: 'create',
    spec: { taskQueueId },
    count: n,
    concurrency: 1,
    pacingMs: ctx.opts.pacingMs,
  });
  await waitFor(
    ctx,
    'claim latency',
    () => workers.done() >= n && job.done >= n,
    () => `${job.done} created, ${workers.done()} claimed`,
    [job, ...workers.jobs],
  );
  const created = await job.result;
  const work = await workers.stop();
  const claimedAt = new Map(work.taskIds.map((id, i) => [id, work.claimedAt[i]]));
  const latency = created.taskIds.map((id, i) => (claimedAt.get(id) ?? Number.NaN) - created.doneAt[i]);
  return {
    figures: [
      {
        name: 'claim latency p50',
        value: quantile(latency, 0.5),
        unit: 'ms',
        target: { op: '<', value: 10 },
      },
      {
        name: 'claim latency p99',
        value: quantile(latency, 0.99),
        unit: 'ms',
        target: { op: '<', value: 50 },
      },
      { name: 'claim latency max', value: maxOf(latency), unit: 'ms' },
    ],
    notes: [],
    details: {
      tasks: n,
      idleWorkers: ctx.opts.idleWorkers,
      pacingMs: ctx.opts.pacingMs,
      emptyClaims: work.emptyClaims,
    },
  };
}

/**
 * 5. A 100,000-task group: created (nobody claiming), then drained by the simulated workers, then
 * the wait for its task-group-resolved message; the first and last tenth of both phases compared.
 */
export async function bigGroup(ctx: BenchContext): Promise<ScenarioResult> {
  const n = scaled(ctx, 100_000, 100);
  const taskGroupId = newTaskId();
  const taskQueueId = queueId(ctx, 'group');
  ctx.log(`group of ${n} tasks: creating, ${ctx.opts.concurrency} in flight`);
  const created = await createTasks(ctx, { taskQueueId, taskGroupId }, n);
  const createStart = minOf(created.sentAt);
  const createSeconds = (maxOf(created.doneAt) - createStart) / 1000;
  const c10 = firstLastTenth(created.doneAt, createStart);

  ctx.log(`group of ${n} tasks: draining with ${ctx.opts.workers} workers`);
  const drainStart = nowMs();
  const workers = startWorkers(ctx, taskQueueId, ctx.opts.workers, 'group');
  await waitCompleted(ctx, workers, n, 'draining the group');
  const work = await workers.stop();
  const lastCompleted = maxOf(work.completedAt);
  const drainSeconds = (lastCompleted - drainStart) / 1000;
  const d10 = firstLastTenth(work.completedAt, drainStart);

  const figures: Figure[] = [
    { name: 'group: create', value: n / createSeconds, unit: 'tasks/s', throughput: true },
    { name: 'group: create time', value: createSeconds, unit: 's' },
    { name: 'group: create first 10%', value: c10.first, unit: 'tasks/s', throughput: true },
    { name: 'group: create last 10%', value: c10.last, unit: 'tasks/s', throughput: true },
    { name: 'group: create slowdown', value: c10.degradation, unit: '×', target: { op: '<=', value: 2 } },
    { name: 'group: drain', value: n / drainSeconds, unit: 'tasks/s', throughput: true },
    { name: 'group: drain time', value: drainSeconds, unit: 's' },
    { name: 'group: drain first 10%', value: d10.first, unit: 'tasks/s', throughput: true },
    { name: 'group: drain last 10%', value: d10.last, unit: 'tasks/s', throughput: true },
    { name: 'group: drain slowdown', value: d10.degradation, unit: '×', target: { op: '<=', value: 2 } },
  ];
  const notes: string[] = [];
  const details: Record<string, unknown> = {
    tasks: n,
    workers: ctx.opts.workers,
    taskGroupId,
    tenth: c10.tenth,
  };
  const events = ctx.events;
  if (events) {
    await waitFor(
      ctx,
      'task-group-resolved message',
      () => (events.groupResolved.get(taskGroupId)?.length ?? 0) > 0,
      () => 'waiting',
    );
    const resolvedAt = events.groupResolved.get(taskGroupId)![0];
    figures.push({
      name: 'group: last completion → resolved event',
      value: resolvedAt - lastCompleted,
      unit: 'ms',
    });
    details.groupResolvedMessages = events.groupResolved.get(taskGroupId)!.length;
  } else {
    notes.push('task-group-resolved: not observable without RabbitMQ (--no-amqp, --up)');
  }
  return { figures, notes, details };
}
