import type { Static } from '@sinclair/typebox';
import { ApiError } from '../../platform/errors.ts';
import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { publishTaskEvent } from './events.ts';
import { type CreateTaskRequest, MAX_DEPENDENCIES } from './schemas.ts';
import { type TaskRecord, taskDefinition } from './task-record.ts';
import { scheduleTask } from './transitions.ts';

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
 * Creates the task, its dependency edges and its group membership in one transaction, and
 * schedules it at once when nothing blocks it. Returns the stored task (the existing one when
 * the same definition was created before).
 */
export async function createTask(ctx: QueueContext, task: TaskRecord): Promise<TaskRecord> {
  return ctx.database.transaction(async (tx) => {
    const now = ctx.now();
    await tx.query(
      `insert into queue_task_groups (task_group_id, scheduler_id, expires) values ($1, $2, $3)
       on conflict (task_group_id) do nothing`,
      [task.taskGroupId, task.schedulerId, new Date(task.expires.getTime() + GROUP_EXPIRY_MARGIN_MS)],
    );
    const group = (
      await tx.query<{ schedulerId: string; sealed: Date | null }>(
        `select scheduler_id as "schedulerId", sealed from queue_task_groups where task_group_id = $1 for update`,
        [task.taskGroupId],
      )
    ).rows[0];
    const existing = await db.getTask(tx, task.taskId, true);
    if (existing) {
      if (!sameDefinition(existing, task)) {
        throw new ApiError(
          'RequestConflict',
          `task ${task.taskId} already exists with a different definition`,
        );
      }
      return existing;
    }
    if (group.schedulerId !== task.schedulerId) {
      throw new ApiError(
        'RequestConflict',
        `task group ${task.taskGroupId} belongs to schedulerId ${group.schedulerId}; every task of a group must share it (this one has ${task.schedulerId})`,
      );
    }
    if (group.sealed) {
      throw new ApiError(
        'RequestConflict',
        `task group ${task.taskGroupId} is sealed and takes no new tasks`,
      );
    }
    // Locked FOR SHARE so a dependency cannot resolve between this read and the edge insert:
    // either we see it resolved, or its resolution sees our edge.
    const others = task.dependencies.filter((d) => d !== task.taskId);
    const states = others.length
      ? await lockDependencyStates(tx, others)
      : new Map<string, { expires: Date; state: string }>();
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
    const edges = others.map((d) => ({ requiredTaskId: d, satisfied: satisfiedBy(states.get(d)!.state) }));
    task.unsatisfied =
      edges.filter((e) => !e.satisfied).length + (others.length < task.dependencies.length ? 1 : 0);
    await db.insertTask(tx, task);
    await db.insertDependencies(tx, task.taskId, task.requires, edges, task.expires);
    await tx.query(
      'update queue_task_groups set unresolved = unresolved + 1, expires = greatest(expires, $2) where task_group_id = $1',
      [task.taskGroupId, new Date(task.expires.getTime() + GROUP_EXPIRY_MARGIN_MS)],
    );
    await publishTaskEvent(tx, 'task-defined', task, {});
    if (task.unsatisfied === 0) await scheduleTask(tx, task, now);
    return task;
  });
}

async function lockDependencyStates(tx: Parameters<typeof db.getTask>[0], taskIds: string[]) {
  await tx.query('select 1 from queue_tasks where task_id = any($1) order by task_id for share', [taskIds]);
  return db.dependencyStates(tx, taskIds);
}
