import { notifyAfterCommit, type Queryable } from '../../platform/db/index.ts';
import {
  insertOutboxRows,
  OUTBOX_CHANNEL,
  type OutboxRow,
  outboxInsertSql,
} from '../../platform/events/index.ts';
import * as db from './db.ts';
import { type GroupInfo, publishTaskEvent, taskEventRow, taskGroupEventRow } from './events.ts';
import { LIVE_LOG_CHANNEL } from './live-log-db.ts';
import {
  isResolvedState,
  newPendingRun,
  priorityRank,
  RETRIED_EXCEPTIONS,
  type ReasonCreated,
  type ReasonResolved,
  type Run,
  type TaskRecord,
  taskState,
} from './task-record.ts';

/**
 * The state changes of a task, each applied to a row the caller holds locked (select ... for
 * update) inside its transaction, with the events they cause written to the outbox in the same
 * transaction. Callers save the task with db.saveTaskState afterwards (done here).
 */

/** Adds a pending run and queues it for claimWork. */
export async function addPendingRun(
  tx: Queryable,
  task: TaskRecord,
  reason: ReasonCreated,
  now: Date,
): Promise<Run> {
  const run = newPendingRun(task, reason, now);
  task.runs.push(run);
  await db.saveTaskState(tx, task);
  await db.addPending(tx, task, run.runId, priorityRank(task.priority));
  await publishTaskEvent(tx, 'task-pending', task, { runId: run.runId });
  return run;
}

/** An unscheduled task gets its first run (dependencies satisfied, or scheduleTask). */
export async function scheduleTask(tx: Queryable, task: TaskRecord, now: Date): Promise<boolean> {
  if (task.runs.length > 0 || task.resolved) return false;
  if (now >= task.deadline) return false;
  await addPendingRun(tx, task, 'scheduled', now);
  return true;
}

/**
 * Queues tasks whose first run the caller has just set pending in their rows (the dependents a
 * resolution made ready): their pending entries (an entry gated on the resolved task is ungated)
 * and task-pending events, SCHEDULE_CHUNK tasks per statement, and the notifications that wake
 * claimWork.
 */
export async function queueScheduled(tx: Queryable, tasks: readonly TaskRecord[]): Promise<void> {
  for (let i = 0; i < tasks.length; i += SCHEDULE_CHUNK) {
    const chunk = tasks.slice(i, i + SCHEDULE_CHUNK);
    await tx.query(
      `with queued as (
         insert into queue_pending (task_queue_id, priority, task_id, run_id)
         select q, p, id, 0 from unnest($1::text[], $2::int[], $3::text[]) as u(q, p, id)
         ${db.UNGATE_ON_CONFLICT}
       )
       ${outboxInsertSql('$4')}`,
      [
        chunk.map((t) => t.taskQueueId),
        chunk.map((t) => priorityRank(t.priority)),
        chunk.map((t) => t.taskId),
        JSON.stringify(chunk.map((t) => taskEventRow('task-pending', t, { runId: 0 }))),
      ],
    );
  }
  if (tasks.length === 0) return;
  await notifyAfterCommit(tx, OUTBOX_CHANNEL, '');
  for (const queue of new Set(tasks.map((t) => t.taskQueueId))) {
    await notifyAfterCommit(tx, db.PENDING_CHANNEL, queue);
  }
  for (const t of tasks) await notifyAfterCommit(tx, LIVE_LOG_CHANNEL, t.taskId, { localOnly: true });
}

/** How many tasks queueScheduled writes per statement. */
const SCHEDULE_CHUNK = 1000;

/** The in-memory part of a claim: the run is running on `worker` until `takenUntil`. */
export function markClaimed(
  task: TaskRecord,
  runId: number,
  worker: { workerGroup: string; workerId: string },
  takenUntil: Date,
  now: Date,
): Run {
  const run = task.runs[runId];
  run.state = 'running';
  run.workerGroup = worker.workerGroup;
  run.workerId = worker.workerId;
  run.takenUntil = takenUntil.toJSON();
  run.started = now.toJSON();
  task.takenUntil = takenUntil;
  return run;
}

export async function claimRun(
  tx: Queryable,
  task: TaskRecord,
  runId: number,
  worker: { workerGroup: string; workerId: string },
  takenUntil: Date,
  now: Date,
): Promise<Run> {
  const run = markClaimed(task, runId, worker, takenUntil, now);
  await db.saveTaskState(tx, task, { unpendRunId: runId });
  await publishTaskEvent(tx, 'task-running', task, {
    runId,
    workerGroup: worker.workerGroup,
    workerId: worker.workerId,
    takenUntil: run.takenUntil,
  });
  return run;
}

export async function reclaimRun(
  tx: Queryable,
  task: TaskRecord,
  runId: number,
  takenUntil: Date,
): Promise<Run> {
  const run = task.runs[runId];
  run.takenUntil = takenUntil.toJSON();
  task.takenUntil = takenUntil;
  await db.saveTaskState(tx, task);
  return run;
}

/**
 * Resolves a run (completed, failed or exception). Retryable exceptions add a new pending run
 * while retries last; otherwise the task is resolved: its group's count of unresolved tasks
 * drops (announcing task-group-resolved at zero) and its dependents are queued for the
 * dependency loop, which runs outside this transaction.
 */
export async function resolveRun(
  tx: Queryable,
  task: TaskRecord,
  runId: number,
  state: 'completed' | 'failed' | 'exception',
  reason: ReasonResolved,
  now: Date,
): Promise<void> {
  const run = task.runs[runId];
  const wasPending = run.state === 'pending';
  run.state = state;
  run.reasonResolved = reason;
  run.resolved = now.toJSON();
  task.takenUntil = null;
  const unpend = wasPending ? { unpendRunId: runId } : {};
  const worker = run.workerGroup ? { workerGroup: run.workerGroup, workerId: run.workerId } : {};
  const exchange =
    state === 'completed' ? 'task-completed' : state === 'failed' ? 'task-failed' : 'task-exception';
  const retry = state === 'exception' ? RETRIED_EXCEPTIONS[reason] : undefined;
  if (retry && task.retriesLeft > 0 && now < task.deadline) {
    task.retriesLeft--;
    await db.saveTaskState(tx, task, unpend);
    await publishTaskEvent(tx, exchange, task, { runId, ...worker });
    await addPendingRun(tx, task, retry, now);
    return;
  }
  await markResolved(tx, task, unpend);
  await publishTaskEvent(tx, exchange, task, { runId, ...worker });
  await countGroupResolution(tx, task, state);
}

/**
 * Cancels or times out a task that is not resolved: a pending or running run becomes an
 * exception; a task with no run gets one created as an exception.
 */
export async function resolveUnresolved(
  tx: Queryable,
  task: TaskRecord,
  reason: 'canceled' | 'deadline-exceeded',
  now: Date,
): Promise<boolean> {
  const state = taskState(task);
  if (isResolvedState(state)) return false;
  if (state === 'unscheduled') {
    task.runs.push({
      runId: 0,
      state: 'exception',
      reasonCreated: 'exception',
      reasonResolved: reason,
      scheduled: now.toJSON(),
      resolved: now.toJSON(),
    });
    // Its gated pending entry, if it has one (migration 0012), goes with it.
    await markResolved(tx, task, { unpendRunId: 0 });
    await publishTaskEvent(tx, 'task-exception', task, { runId: 0 });
    await countGroupResolution(tx, task, 'exception');
    return true;
  }
  await resolveRun(tx, task, task.runs.length - 1, 'exception', reason, now);
  return true;
}

async function markResolved(
  tx: Queryable,
  task: TaskRecord,
  opts: { unpendRunId?: number } = {},
): Promise<void> {
  task.resolved = true;
  task.everResolved = true;
  task.takenUntil = null;
  await db.saveTaskState(tx, task, opts);
}

/** One resolved task: queued for the dependency loop, one fewer unresolved in its group. */
async function countGroupResolution(tx: Queryable, task: TaskRecord, resolution: string): Promise<void> {
  await insertOutboxRows(tx, await countResolutions(tx, [{ task, resolution }]));
}

/**
 * Resolved tasks: queued for the dependency loop (woken after commit), their gates opened (see
 * migration 0012: the gated pending entries of their dependents become claimable with this commit,
 * and claimWork of those task queues is woken), and each group's count of unresolved tasks lowered
 * by its tasks among them. One statement, however many tasks. Returns the task-group-resolved
 * events of the groups that got to zero (announced once per time they get there), for the caller
 * to write after the tasks' own events.
 *
 * The lookups of gated entries are written so that even a generic plan made without statistics
 * probes the gate index per task (a scalar subquery, a lateral one behind `offset 0`) instead of
 * scanning every pending entry. The gate is opened only when gated entries are waiting on it.
 * createTask writes such an entry under a FOR SHARE lock of the task it waits for, and every caller
 * locked the resolved tasks FOR UPDATE in an earlier statement of this transaction, so this
 * statement sees each entry createTask wrote before the resolution. An entry it does not see (one
 * the dependency loop is writing at the same time) stays gated until the loop handles this
 * resolution and makes its task pending, as it does every dependent.
 */
export async function countResolutions(
  tx: Queryable,
  resolved: ReadonlyArray<{ task: TaskRecord; resolution: string }>,
): Promise<OutboxRow[]> {
  if (resolved.length === 0) return [];
  const perGroup = new Map<string, number>();
  for (const { task } of resolved) perGroup.set(task.taskGroupId, (perGroup.get(task.taskGroupId) ?? 0) + 1);
  const groups = [...perGroup.keys()].sort();
  const res = await tx.query<GroupInfo & { unresolved: number; wake: string | null }>(
    `with r as (
       select * from unnest($1::text[], $2::text[]) as r(task_id, resolution)
     ), queued as (
       insert into queue_resolved_tasks (task_id, resolution) select task_id, resolution from r
     ), opened as (
       insert into queue_open_gates (task_id, completed)
       select r.task_id, bool_or(r.resolution = 'completed') from r
       where (select true from queue_pending p
              where p.gate = r.task_id and (r.resolution = 'completed' or p.gate_any) limit 1)
       group by r.task_id
       on conflict (task_id) do update set completed = queue_open_gates.completed or excluded.completed
       returning task_id, completed
     ), counted as (
       update queue_task_groups g set unresolved = g.unresolved - c.n
       from unnest($3::text[], $4::int[]) as c(task_group_id, n)
       where g.task_group_id = c.task_group_id
       returning g.unresolved, g.task_group_id, g.scheduler_id, g.expires, g.sealed
     )
     select unresolved, task_group_id as "taskGroupId", scheduler_id as "schedulerId", expires, sealed,
       null::text as wake
     from counted
     union all
     select distinct null::int, null::text, null::text, null::timestamptz, null::timestamptz, p.task_queue_id
     from opened o cross join lateral (
       select p.task_queue_id from queue_pending p
       where p.gate = o.task_id and (o.completed or p.gate_any) offset 0
     ) p`,
    [
      resolved.map((r) => r.task.taskId),
      resolved.map((r) => r.resolution),
      groups,
      groups.map((g) => perGroup.get(g)),
    ],
  );
  await notifyAfterCommit(tx, 'taskyard_queue_resolved', '');
  for (const { wake } of res.rows) {
    if (wake !== null) await notifyAfterCommit(tx, db.PENDING_CHANNEL, wake);
  }
  return res.rows
    .filter((g) => g.wake === null && g.unresolved === 0)
    .map((g) => taskGroupEventRow('task-group-resolved', g));
}

/**
 * A resolved (or never-run) task runs again: a new pending run, retries restored within the run
 * limit, and a resolved task counts as unresolved in its group again.
 */
export async function rerun(tx: Queryable, task: TaskRecord, now: Date, maxRuns: number): Promise<void> {
  if (task.resolved) {
    await tx.query('update queue_task_groups set unresolved = unresolved + 1 where task_group_id = $1', [
      task.taskGroupId,
    ]);
  }
  task.resolved = false;
  task.retriesLeft = Math.max(0, Math.min(task.retries, maxRuns - (task.runs.length + 1)));
  await addPendingRun(tx, task, 'rerun', now);
}
