import type { Static } from '@sinclair/typebox';
import { findPgError, PgError, type Queryable } from '../../platform/db/index.ts';
import { ApiError } from '../../platform/errors.ts';
import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { taskEventRow } from './events.ts';
import { type CreateTaskRequest, MAX_DEPENDENCIES } from './schemas.ts';
import { newPendingRun, priorityRank, type TaskRecord, taskDefinition } from './task-record.ts';

type Body = Static<typeof CreateTaskRequest>;

/** How far `created` may be from the server's clock. */
const CREATED_WINDOW_MS = 15 * 60 * 1000;
const YEAR_MS = 365 * 24 * 60 * 60 * 1000;
/** A group outlives its last-expiring task by this much. */
const GROUP_EXPIRY_MARGIN_MS = 60 * 60 * 1000;

/** The task as it will be stored: defaults applied, dates checked. Throws InputError naming the problem. */
export function taskFromRequest(taskId: string, body: Body, ctx: QueueContext): TaskRecord {
  let taskQueueId = body.taskQueueId;
  if (body.provisionerId !== undefined || body.workerType !== undefined) {
    if (body.provisionerId === undefined || body.workerType === undefined) {
      throw new ApiError(
        'InputError',
        'provisionerId and workerType go together; or give taskQueueId instead',
      );
    }
    const fromParts = `${body.provisionerId}/${body.workerType}`;
    if (taskQueueId !== undefined && taskQueueId !== fromParts) {
      throw new ApiError(
        'InputError',
        `taskQueueId ${taskQueueId} does not match provisionerId/workerType ${fromParts}`,
      );
    }
    taskQueueId = fromParts;
  }
  if (taskQueueId === undefined) {
    throw new ApiError('InputError', 'the task needs a taskQueueId (or provisionerId and workerType)');
  }
  const now = ctx.now().getTime();
  const created = new Date(body.created);
  const deadline = new Date(body.deadline);
  const expires = body.expires ? new Date(body.expires) : new Date(deadline.getTime() + YEAR_MS);
  if (Math.abs(created.getTime() - now) > CREATED_WINDOW_MS) {
    throw new ApiError(
      'InputError',
      `created (${body.created}) must be within 15 minutes of the current time (${new Date(now).toJSON()})`,
    );
  }
  if (deadline.getTime() <= now) {
    throw new ApiError('InputError', `deadline (${body.deadline}) is in the past`);
  }
  if (deadline.getTime() - created.getTime() > ctx.settings.maxDeadlineMs) {
    throw new ApiError(
      'InputError',
      `deadline (${body.deadline}) is more than ${ctx.settings.maxDeadlineMs / 86_400_000} days after created (${body.created})`,
    );
  }
  if (expires < deadline) {
    throw new ApiError(
      'InputError',
      `expires (${expires.toJSON()}) must not be before deadline (${body.deadline})`,
    );
  }
  const doubleStar = (body.scopes ?? []).find((sc) => sc.endsWith('**'));
  if (doubleStar)
    throw new ApiError(
      'InputError',
      `scope ${JSON.stringify(doubleStar)} ends with "**", which is not allowed`,
    );
  const dependencies = body.dependencies ?? [];
  if (dependencies.length > MAX_DEPENDENCIES) {
    throw new ApiError(
      'InputError',
      `a task may have at most ${MAX_DEPENDENCIES} dependencies; this one has ${dependencies.length}`,
    );
  }
  const retries = body.retries ?? 5;
  return {
    taskId,
    taskGroupId: body.taskGroupId ?? taskId,
    schedulerId: body.schedulerId ?? '-',
    projectId: body.projectId ?? 'none',
    taskQueueId,
    dependencies,
    requires: body.requires ?? 'all-completed',
    routes: body.routes ?? [],
    priority: body.priority ?? 'lowest',
    retries,
    retriesLeft: retries,
    created,
    deadline,
    expires,
    scopes: body.scopes ?? [],
    payload: body.payload,
    metadata: body.metadata,
    tags: body.tags ?? {},
    extra: body.extra ?? {},
    runs: [],
    takenUntil: null,
    unsatisfied: 0,
    everResolved: false,
    resolved: false,
  };
}

/** Key-order-independent JSON, to compare definitions. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export const sameDefinition = (a: TaskRecord, b: TaskRecord): boolean =>
  canonical(taskDefinition(a)) === canonical(taskDefinition(b));

/**
 * Creates the task, its dependency edges and its group membership atomically, and schedules it
 * at once when nothing blocks it. Returns the stored task (the existing one when the same
 * definition was created before).
 *
 * Few round trips, on purpose: a task that depends on no other task is written by one statement
 * without a transaction around it (see `db.insertNewTask`: task row with its first run, group
 * upsert that also refuses a sealed group or another schedulerId, pending entry, both events). A
 * task with dependencies first locks them in a transaction, then writes the same statement and
 * its edges.
 */
export async function createTask(ctx: QueueContext, task: TaskRecord): Promise<TaskRecord> {
  const others = task.dependencies.filter((d) => d !== task.taskId);
  try {
    const created =
      others.length === 0
        ? await insertCreated(ctx, ctx.database, task, [])
        : await ctx.database.transaction(async (tx) => {
            // Locked FOR SHARE so a dependency cannot resolve between this read and the edge
            // insert: either we see it resolved, or its resolution sees our edge.
            const states = await lockDependencyStates(tx, others);
            const missing = others.filter((d) => !states.has(d));
            if (missing.length) {
              throw new ApiError(
                'InputError',
                `dependencies that do not exist: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', ...' : ''}`,
              );
            }
            const expiring = others.filter((d) => states.get(d)!.expires < task.deadline);
            if (expiring.length) {
              throw new ApiError(
                'InputError',
                `dependencies that expire before this task's deadline: ${expiring.slice(0, 20).join(', ')}`,
              );
            }
            const satisfiedBy = (state: string) =>
              state === 'completed' ||
              (task.requires === 'all-resolved' && (state === 'failed' || state === 'exception'));
            const edges = others.map((d) => ({
              requiredTaskId: d,
              satisfied: satisfiedBy(states.get(d)!.state),
            }));
            return insertCreated(ctx, tx, task, edges);
          });
    if (created) return created;
  } catch (err) {
    throw refusal(err, task) ?? err;
  }
  const existing = await db.getTask(ctx.database, task.taskId);
  if (!existing || !sameDefinition(existing, task)) {
    throw new ApiError('RequestConflict', `task ${task.taskId} already exists with a different definition`);
  }
  return existing;
}

/**
 * Writes a new task whose dependency `edges` (on other tasks) are known, with its first run when
 * nothing blocks it, and its events; the task as stored, or undefined when the task id exists.
 */
async function insertCreated(
  ctx: QueueContext,
  q: Queryable,
  input: TaskRecord,
  edges: Array<{ requiredTaskId: string; satisfied: boolean }>,
): Promise<TaskRecord | undefined> {
  const task: TaskRecord = { ...input, runs: [...input.runs] };
  const now = ctx.now();
  task.unsatisfied =
    edges.filter((e) => !e.satisfied).length + (edges.length < task.dependencies.length ? 1 : 0);
  // The events, each with the task as it is at that point: defined, then (maybe) pending.
  const events = [taskEventRow('task-defined', task, {})];
  const schedule = task.unsatisfied === 0 && task.runs.length === 0 && now < task.deadline;
  if (schedule) {
    task.runs.push(newPendingRun(task, 'scheduled', now));
    events.push(taskEventRow('task-pending', task, { runId: 0 }));
  }
  // Waiting on exactly one dependency: a pending entry gated on it, claimable once it resolves.
  const waitingOn = edges.filter((e) => !e.satisfied);
  const gate =
    !schedule && task.unsatisfied === 1 && waitingOn.length === 1 && task.runs.length === 0
      ? waitingOn[0].requiredTaskId
      : undefined;
  const rank = priorityRank(task.priority);
  const inserted = await db.insertNewTask(q, task, {
    groupExpires: new Date(task.expires.getTime() + GROUP_EXPIRY_MARGIN_MS),
    pending: schedule ? { rank } : gate ? { rank, gate } : undefined,
    events,
  });
  if (!inserted) return undefined;
  await db.insertDependencies(q, task.taskId, task.requires, edges, task.expires);
  return task;
}

/** The API error for a task the insert statement refused (see `db.insertNewTask`), if it was that. */
function refusal(err: unknown, task: TaskRecord): ApiError | undefined {
  const pgErr = findPgError(err);
  if (!pgErr || pgErr.code !== PgError.RaiseException) return undefined;
  if (pgErr.message === db.REFUSED_OTHER_SCHEDULER) {
    return new ApiError(
      'RequestConflict',
      `task group ${task.taskGroupId} belongs to schedulerId ${pgErr.detail}; every task of a group must share it (this one has ${task.schedulerId})`,
    );
  }
  if (pgErr.message === db.REFUSED_SEALED) {
    return new ApiError('RequestConflict', `task group ${task.taskGroupId} is sealed and takes no new tasks`);
  }
  return undefined;
}

/** Locks the dependencies that exist (FOR SHARE) and reads their states, in one statement. */
async function lockDependencyStates(
  tx: Parameters<typeof db.getTask>[0],
  taskIds: string[],
): Promise<Map<string, { expires: Date; state: string }>> {
  const res = await tx.query<{ taskId: string; expires: Date; state: string }>(
    `select task_id as "taskId", expires,
       case when runs = '[]'::jsonb then 'unscheduled' else runs -> -1 ->> 'state' end as state
     from queue_tasks where task_id = any($1) order by task_id for share`,
    [taskIds],
  );
  return new Map(res.rows.map((r) => [r.taskId, { expires: r.expires, state: r.state }]));
}
