import type { Queryable } from '../../platform/db/index.ts';
import { type Run, type TaskRecord, taskDefinition, taskStatus } from './task-record.ts';

const taskColumns = `task_id as "taskId", task_group_id as "taskGroupId", scheduler_id as "schedulerId",
  project_id as "projectId", task_queue_id as "taskQueueId", dependencies, requires, routes, priority,
  retries, retries_left as "retriesLeft", created, deadline, expires, scopes, payload, metadata, tags,
  extra, runs, taken_until as "takenUntil", unsatisfied, ever_resolved as "everResolved", resolved`;

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

export async function getTasks(q: Queryable, taskIds: string[]): Promise<TaskRecord[]> {
  const res = await q.query<TaskRecord>(`select ${taskColumns} from queue_tasks where task_id = any($1)`, [
    taskIds,
  ]);
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

export async function insertTask(q: Queryable, t: TaskRecord): Promise<boolean> {
  const res = await q.query(
    `insert into queue_tasks (task_id, task_group_id, scheduler_id, project_id, task_queue_id, dependencies,
       requires, routes, priority, retries, retries_left, created, deadline, expires, scopes, payload, metadata,
       tags, extra, runs, taken_until, unsatisfied, ever_resolved, resolved)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
     on conflict (task_id) do nothing`,
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
    ],
  );
  return res.rowCount === 1;
}

/** Writes the mutable part of a task: its runs and the fields derived from them. */
export async function saveTaskState(
  q: Queryable,
  t: Pick<
    TaskRecord,
    'taskId' | 'runs' | 'retriesLeft' | 'takenUntil' | 'everResolved' | 'resolved' | 'priority'
  >,
): Promise<void> {
  await q.query(
    `update queue_tasks set runs = $2, retries_left = $3, taken_until = $4, ever_resolved = $5, resolved = $6,
       priority = $7
     where task_id = $1`,
    [t.taskId, JSON.stringify(t.runs), t.retriesLeft, t.takenUntil, t.everResolved, t.resolved, t.priority],
  );
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

/** The resolution state of each given task that exists: used to count satisfied dependencies. */
export async function dependencyStates(
  q: Queryable,
  taskIds: string[],
): Promise<Map<string, { expires: Date; state: string }>> {
  const res = await q.query<{ taskId: string; expires: Date; state: string }>(
    `select task_id as "taskId", expires,
       case when runs = '[]'::jsonb then 'unscheduled' else runs -> -1 ->> 'state' end as state
     from queue_tasks where task_id = any($1)`,
    [taskIds],
  );
  return new Map(res.rows.map((r) => [r.taskId, { expires: r.expires, state: r.state }]));
}

export async function addPending(
  q: Queryable,
  task: Pick<TaskRecord, 'taskId' | 'taskQueueId'>,
  runId: number,
  rank: number,
) {
  await q.query(
    `insert into queue_pending (task_queue_id, priority, task_id, run_id) values ($1, $2, $3, $4)
     on conflict do nothing`,
    [task.taskQueueId, rank, task.taskId, runId],
  );
  // Wakes claimWork calls waiting on this queue, in this or any process, once committed.
  await q.query('select pg_notify($1, $2)', ['taskyard_queue_pending', task.taskQueueId]);
}

export async function removePending(q: Queryable, taskId: string, runId: number): Promise<void> {
  await q.query('delete from queue_pending where task_id = $1 and run_id = $2', [taskId, runId]);
}

export async function recordResolution(q: Queryable, taskId: string, resolution: string): Promise<void> {
  await q.query('insert into queue_resolved_tasks (task_id, resolution) values ($1, $2)', [
    taskId,
    resolution,
  ]);
  await q.query('select pg_notify($1, $2)', ['taskyard_queue_resolved', '']);
}

export type { Run };
