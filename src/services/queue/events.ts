import { type TSchema, Type } from '@sinclair/typebox';
import type { Queryable } from '../../platform/db/index.ts';
import {
  type ExchangeDeclaration,
  insertOutboxRows,
  type OutboxRow,
  outboxRow,
  type RoutingKeyPart,
  reservedPart,
  routesToCC,
  routingKeyKindPart,
  type ServiceExchanges,
} from '../../platform/events/index.ts';
import { TaskStatusSchema } from './schemas.ts';
import { splitTaskQueueId, type TaskRecord, taskStatus } from './task-record.ts';

const part = (name: string, summary: string, required: boolean, maxSize: number): RoutingKeyPart => ({
  name,
  summary,
  required,
  maxSize,
});

/** primary.<taskId>.<runId>.<workerGroup>.<workerId>.<provisionerId>.<workerType>.<schedulerId>.<taskGroupId>.# */
function taskKey(required: { runId: boolean; worker: boolean }): RoutingKeyPart[] {
  return [
    routingKeyKindPart,
    part('taskId', '`taskId` of the task this message concerns', true, 22),
    part('runId', '`runId` of the latest run, `_` when there is none', required.runId, 3),
    part('workerGroup', '`workerGroup` of the latest run, `_` when not claimed', required.worker, 38),
    part('workerId', '`workerId` of the latest run, `_` when not claimed', required.worker, 38),
    part('provisionerId', 'first half of the `taskQueueId`', true, 38),
    part('workerType', 'second half of the `taskQueueId`', true, 38),
    part('schedulerId', '`schedulerId` of the task', true, 38),
    part('taskGroupId', '`taskGroupId` of the task', true, 22),
    reservedPart,
  ];
}

const groupKey: RoutingKeyPart[] = [
  routingKeyKindPart,
  part('taskGroupId', '`taskGroupId` of the task group', true, 22),
  part('schedulerId', '`schedulerId` of the task group', true, 38),
  reservedPart,
];

const Tags = Type.Object({ tags: Type.Record(Type.String(), Type.String()) });
const groupMessage = (id: string) =>
  Type.Object(
    {
      version: Type.Literal(1),
      taskGroupId: Type.String(),
      schedulerId: Type.String(),
      expires: Type.String({ format: 'date-time' }),
      sealed: Type.Optional(Type.String({ format: 'date-time' })),
    },
    { $id: id, additionalProperties: false },
  );
const message = (id: string, fields: Record<string, TSchema>) =>
  Type.Object(
    { version: Type.Literal(1), status: TaskStatusSchema, ...fields },
    { $id: id, additionalProperties: false },
  );
const worker = {
  workerGroup: Type.Optional(Type.String({ maxLength: 38 })),
  workerId: Type.Optional(Type.String({ maxLength: 38 })),
};
const resolvedMessage = (id: string) =>
  message(id, {
    runId: Type.Optional(Type.Integer({ minimum: 0 })),
    task: Tags,
    ...worker,
  });

function decl(
  exchange: string,
  title: string,
  description: string,
  routingKey: RoutingKeyPart[],
  schema: TSchema,
): ExchangeDeclaration {
  const name = exchange.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
  return { exchange, name, title, description, routingKey, schema };
}

export const queueExchanges = {
  serviceName: 'queue',
  projectName: 'taskcluster-queue',
  title: 'Queue AMQP Exchanges',
  description: 'Messages about tasks, runs, artifacts and task groups, as their state changes.',
  exchanges: [
    decl(
      'task-defined',
      'Task Defined Messages',
      'A task was defined (created or defined without scheduling).',
      taskKey({ runId: false, worker: false }),
      message('task-defined-message', { task: Tags }),
    ),
    decl(
      'task-pending',
      'Task Pending Messages',
      'A run of a task became pending: a worker may claim it.',
      taskKey({ runId: true, worker: false }),
      message('task-pending-message', { task: Tags, runId: Type.Integer({ minimum: 0 }) }),
    ),
    decl(
      'task-running',
      'Task Running Messages',
      'A worker claimed a run of a task and runs it.',
      taskKey({ runId: true, worker: true }),
      message('task-running-message', {
        task: Tags,
        runId: Type.Integer({ minimum: 0 }),
        workerGroup: Type.String({ maxLength: 38 }),
        workerId: Type.String({ maxLength: 38 }),
        takenUntil: Type.String({ format: 'date-time' }),
      }),
    ),
    decl(
      'artifact-created',
      'Artifact Creation Messages',
      'An artifact was created for a run.',
      taskKey({ runId: true, worker: true }),
      message('artifact-created-message', {
        artifact: Type.Object({
          storageType: Type.String(),
          name: Type.String(),
          expires: Type.String({ format: 'date-time' }),
          contentType: Type.String(),
        }),
        runId: Type.Integer({ minimum: 0 }),
        workerGroup: Type.String({ maxLength: 38 }),
        workerId: Type.String({ maxLength: 38 }),
      }),
    ),
    decl(
      'task-completed',
      'Task Completed Messages',
      'A run of a task completed successfully.',
      taskKey({ runId: true, worker: true }),
      resolvedMessage('task-completed-message'),
    ),
    decl(
      'task-failed',
      'Task Failed Messages',
      'A run of a task failed.',
      taskKey({ runId: false, worker: false }),
      resolvedMessage('task-failed-message'),
    ),
    decl(
      'task-exception',
      'Task Exception Messages',
      'A run of a task was resolved as an exception (canceled, deadline exceeded, claim expired, ...).',
      taskKey({ runId: false, worker: false }),
      resolvedMessage('task-exception-message'),
    ),
    decl(
      'task-group-resolved',
      'Task Group Resolved Messages',
      'No task of the group is unresolved any more.',
      groupKey,
      groupMessage('task-group-changed-message'),
    ),
    decl(
      'task-group-sealed',
      'Task Group Sealed Messages',
      'The task group was sealed: it takes no new tasks.',
      groupKey,
      groupMessage('task-group-changed-message'),
    ),
    decl(
      'task-priority-changed',
      'Task Priority Changed Messages',
      'The priority of a task was changed.',
      taskKey({ runId: false, worker: false }),
      message('task-priority-changed-message', { oldPriority: Type.String(), newPriority: Type.String() }),
    ),
    decl(
      'task-group-priority-changed',
      'Task Group Priority Changed Messages',
      'The priority of the unresolved tasks of a group was changed.',
      groupKey,
      Type.Object(
        {
          version: Type.Literal(1),
          taskGroupId: Type.String(),
          schedulerId: Type.String(),
          newPriority: Type.String(),
          tasksAffected: Type.Integer({ minimum: 0 }),
        },
        { $id: 'task-group-priority-changed-message', additionalProperties: false },
      ),
    ),
  ],
} satisfies ServiceExchanges;

const byName = new Map(queueExchanges.exchanges.map((d) => [d.exchange, d]));

/** Exchanges whose messages carry no `task: {tags}`. */
const WITHOUT_TASK_FIELD = new Set(['artifact-created', 'task-priority-changed']);

/** A task event's outbox row, CC'd to the task's routes (`route.<route>`), with the task as it is now. */
export function taskEventRow(exchange: string, task: TaskRecord, fields: Record<string, unknown>): OutboxRow {
  const d = byName.get(exchange)!;
  return outboxRow(
    queueExchanges,
    d,
    {
      version: 1,
      status: taskStatus(task),
      ...(WITHOUT_TASK_FIELD.has(exchange) ? {} : { task: { tags: task.tags } }),
      ...fields,
    },
    {
      taskId: task.taskId,
      // As upstream: the routing key's run and worker words come from the message, not the status.
      runId: fields.runId as number | undefined,
      workerGroup: fields.workerGroup as string | undefined,
      workerId: fields.workerId as string | undefined,
      ...splitTaskQueueId(task.taskQueueId),
      schedulerId: task.schedulerId,
      taskGroupId: task.taskGroupId,
    },
    routesToCC(task.routes),
  );
}

/** Writes a task event to the outbox (see `taskEventRow`). */
export async function publishTaskEvent(
  tx: Queryable,
  exchange: string,
  task: TaskRecord,
  fields: Record<string, unknown>,
): Promise<void> {
  await insertOutboxRows(tx, [taskEventRow(exchange, task, fields)]);
}

export interface GroupInfo {
  taskGroupId: string;
  schedulerId: string;
  expires: Date;
  sealed: Date | null;
}

/** A task group event's outbox row. */
export function taskGroupEventRow(
  exchange: 'task-group-resolved' | 'task-group-sealed' | 'task-group-priority-changed',
  group: GroupInfo,
  extra: Record<string, unknown> = {},
): OutboxRow {
  const body =
    exchange === 'task-group-priority-changed'
      ? { version: 1, taskGroupId: group.taskGroupId, schedulerId: group.schedulerId, ...extra }
      : {
          version: 1,
          taskGroupId: group.taskGroupId,
          schedulerId: group.schedulerId,
          expires: group.expires.toJSON(),
          ...(group.sealed ? { sealed: group.sealed.toJSON() } : {}),
        };
  return outboxRow(queueExchanges, byName.get(exchange)!, body, {
    taskGroupId: group.taskGroupId,
    schedulerId: group.schedulerId,
  });
}

export async function publishTaskGroupEvent(
  tx: Queryable,
  exchange: 'task-group-resolved' | 'task-group-sealed' | 'task-group-priority-changed',
  group: GroupInfo,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await insertOutboxRows(tx, [taskGroupEventRow(exchange, group, extra)]);
}
