import { notifyAfterCommit, type Queryable } from '../../platform/db/index.ts';
import { OUTBOX_CHANNEL, type OutboxRow, outboxInsertSql } from '../../platform/events/index.ts';
import { LIVE_LOG_CHANNEL } from './live-log-db.ts';
import { type Run, type TaskRecord, taskDefinition, taskStatus } from './task-record.ts';

/** Notified (payload: the taskQueueId) when a run becomes pending; claimWork listens. */
export const PENDING_CHANNEL = 'taskyard_queue_pending';

/** The task columns as TaskRecord fields, each qualified with `alias` when given (for joins). */
export function taskColumnsOf(alias?: string): string {
  const c = (name: string) => (alias ? `${alias}.${name}` : name);
  return `${c('task_id')} as "taskId", ${c('task_group_id')} as "taskGroupId", ${c('scheduler_id')} as "schedulerId",
  ${c('project_id')} as "projectId", ${c('task_queue_id')} as "taskQueueId", ${c('dependencies')}, ${c('requires')},
  ${c('routes')}, ${c('priority')}, ${c('retries')}, ${c('retries_left')} as "retriesLeft", ${c('created')},
  ${c('deadline')}, ${c('expires')}, ${c('scopes')}, ${c('payload')}, ${c('metadata')}, ${c('tags')}, ${c('extra')},
  ${c('runs')}, ${c('taken_until')} as "takenUntil", ${c('unsatisfied')}, ${c('ever_resolved')} as "everResolved",
  ${c('resolved')}`;
}
const taskColumns = taskColumnsOf();

export async function getTask(
  q: Queryable,
  taskId: string,
  forUpdate = false,
): Promise<TaskRecord | undefined> {
  const res = await q.query<TaskRecord>(
    `select ${taskColumns} from queue_tasks where task_id = $1${forUpdate ? ' for update' : ''}`,
    [taskId],
  );
  return res.rows[0];
}

/** The existing tasks among `taskIds`; with `forUpdate`, locked in task id order. */
export async function getTasks(
  q: Queryable,
  taskIds: string[],
  opts: { forUpdate?: boolean } = {},
): Promise<TaskRecord[]> {
  const lock = opts.forUpdate ? ' order by task_id for update' : '';
  const res = await q.query<TaskRecord>(
    `select ${taskColumns} from queue_tasks where task_id = any($1)${lock}`,
    [taskIds],
  );
  return res.rows;
}

/** `{status, task}` of each existing task among `taskIds`, in that order (list items of the API). */
export async function taskEntries(q: Queryable, taskIds: string[]) {
  const byId = new Map((await getTasks(q, taskIds)).map((t) => [t.taskId, t]));
  return taskIds.flatMap((id) => {
    const t = byId.get(id);
    return t ? [{ status: taskStatus(t), task: taskDefinition(t) }] : [];
  });
}

/** Why the statement of `insertNewTask` refused the task (see `taskyard_refuse`). */
export const REFUSED_OTHER_SCHEDULER = 'taskyard:group-of-another-scheduler';
export const REFUSED_SEALED = 'taskyard:group-sealed';

/**
 * Inserts a new task with everything that goes with it, in one statement (one round trip, and
 * atomic without a transaction around it): the task row; its group, created or counted
 * (`unresolved + 1`) and locked; with `pending`, the pending entry of its first run (claimable, or
 * gated on the one dependency it waits for); and its events. When the task id exists already,
 * nothing is written and false is returned. When the group belongs to another schedulerId or is
 * sealed, the statement raises P0001 with REFUSED_OTHER_SCHEDULER (detail: the group's
 * schedulerId) or REFUSED_SEALED and nothing is written. Notifies claimers and the event relays
 * after commit.
 */
export async function insertNewTask(
  q: Queryable,
  t: TaskRecord,
  opts: {
    groupExpires: Date;
    /** The pending entry of run 0; with `gate`, gated on that task (migration 0012). */
    pending?: { rank: number; gate?: string };
    events: readonly OutboxRow[];
  },
): Promise<boolean> {
  const res = await q.query<{ inserted: boolean }>(
    `with t as (
       insert into queue_tasks (task_id, task_group_id, scheduler_id, project_id, task_queue_id, dependencies,
         requires, routes, priority, retries, retries_left, created, deadline, expires, scopes, payload, metadata,
         tags, extra, runs, taken_until, unsatisfied, ever_resolved, resolved)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
       on conflict (task_id) do nothing
       returning task_id
     ), g as (
       insert into queue_task_groups (task_group_id, scheduler_id, expires, unresolved)
       select $2, $3, $25, 1 from t
       on conflict (task_group_id) do update
         set unresolved = queue_task_groups.unresolved + 1,
             expires = greatest(queue_task_groups.expires, excluded.expires)
       returning scheduler_id, sealed
     ), p as (
       insert into queue_pending (task_queue_id, priority, task_id, run_id, gate, gate_any)
       select $5, $27, task_id, 0, $29, $30 from t where $26
       on conflict do nothing
     ), o as (
       ${outboxInsertSql('$28', 't')}
     )
     select exists (select from t) as inserted,
       (select case
          when g.scheduler_id <> $3 then taskyard_refuse('${REFUSED_OTHER_SCHEDULER}', g.scheduler_id)
          when g.sealed is not null then taskyard_refuse('${REFUSED_SEALED}', null)
        end from g) as refused`,
    [
      t.taskId,
      t.taskGroupId,
      t.schedulerId,
      t.projectId,
      t.taskQueueId,
      JSON.stringify(t.dependencies),
      t.requires,
      JSON.stringify(t.routes),
      t.priority,
      t.retries,
      t.retriesLeft,
      t.created,
      t.deadline,
      t.expires,
      JSON.stringify(t.scopes),
      JSON.stringify(t.payload),
      JSON.stringify(t.metadata),
      JSON.stringify(t.tags),
      JSON.stringify(t.extra),
      JSON.stringify(t.runs),
      t.takenUntil,
      t.unsatisfied,
      t.everResolved,
      t.resolved,
      opts.groupExpires,
      opts.pending !== undefined,
      opts.pending?.rank ?? 0,
      JSON.stringify(opts.events),
      opts.pending?.gate ?? null,
      t.requires === 'all-resolved',
    ],
  );
  const inserted = res.rows[0].inserted;
  if (inserted) {
    // Wakes claimWork calls waiting on this queue, in this or any process, once committed.
    if (opts.pending && !opts.pending.gate) await notifyAfterCommit(q, PENDING_CHANNEL, t.taskQueueId);
    if (opts.events.length) await notifyAfterCommit(q, OUTBOX_CHANNEL, '');
  }
  return inserted;
}

/**
 * Writes the mutable part of a task: its runs and the fields derived from them. With
 * `unpendRunId`, also removes that run's pending entry (claimed or resolved): one statement.
 */
export async function saveTaskState(
  q: Queryable,
  t: Pick<
    TaskRecord,
    'taskId' | 'runs' | 'retriesLeft' | 'takenUntil' | 'everResolved' | 'resolved' | 'priority'
  >,
  opts: { unpendRunId?: number } = {},
): Promise<void> {
  const params = [
    t.taskId,
    JSON.stringify(t.runs),
    t.retriesLeft,
    t.takenUntil,
    t.everResolved,
    t.resolved,
    t.priority,
  ];
  const update = `update queue_tasks set runs = $2, retries_left = $3, taken_until = $4, ever_resolved = $5,
       resolved = $6, priority = $7
     where task_id = $1`;
  if (opts.unpendRunId === undefined) await q.query(update, params);
  else {
    await q.query(`with unpend as (delete from queue_pending where task_id = $1 and run_id = $8) ${update}`, [
      ...params,
      opts.unpendRunId,
    ]);
  }
  // Followers of the task's live logs end at a resolution and start at a claim: in this process
  // at once; other processes' followers see it at their next poll (live-log-hub.ts).
  await notifyAfterCommit(q, LIVE_LOG_CHANNEL, t.taskId, { localOnly: true });
}

export async function insertDependencies(
  q: Queryable,
  dependentTaskId: string,
  requires: string,
  edges: Array<{ requiredTaskId: string; satisfied: boolean }>,
  expires: Date,
): Promise<void> {
  if (edges.length === 0) return;
  await q.query(
    `insert into queue_task_dependencies (required_task_id, dependent_task_id, requires, satisfied, expires)
     select r, $2, $3, s, $4 from unnest($1::text[], $5::boolean[]) as u(r, s)
     on conflict do nothing`,
    [edges.map((e) => e.requiredTaskId), dependentTaskId, requires, expires, edges.map((e) => e.satisfied)],
  );
}

/**
 * The conflict clause of an insert into queue_pending that makes a run pending: the run's entry
 * gated on a dependency (migration 0012) is ungated, with the priority given and a fresh place in
 * line (claim order, listPendingTasks cursors); an ungated one is left as it is.
 */
export const UNGATE_ON_CONFLICT = `on conflict (task_id, run_id) do update
  set gate = null, gate_any = false, priority = excluded.priority, inserted = excluded.inserted
  where queue_pending.gate is not null`;

export async function addPending(
  q: Queryable,
  task: Pick<TaskRecord, 'taskId' | 'taskQueueId'>,
  runId: number,
  rank: number,
) {
  await q.query(
    `insert into queue_pending (task_queue_id, priority, task_id, run_id) values ($1, $2, $3, $4)
     ${UNGATE_ON_CONFLICT}`,
    [task.taskQueueId, rank, task.taskId, runId],
  );
  // Wakes claimWork calls waiting on this queue, in this or any process, once committed.
  await notifyAfterCommit(q, PENDING_CHANNEL, task.taskQueueId);
}

export async function removePending(q: Queryable, taskId: string, runId: number): Promise<void> {
  await q.query('delete from queue_pending where task_id = $1 and run_id = $2', [taskId, runId]);
}

export type { Run };
