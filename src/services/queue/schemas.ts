import { Type } from '@sinclair/typebox';
import { Scope } from '../auth/schemas.ts';

export const slugidPattern = /^[A-Za-z0-9_-]{8}[Q-T][A-Za-z0-9_-][CGKOSWaeimquy26-][A-Za-z0-9_-]{10}[AQgw]$/;
export const identifierPattern = /^[a-zA-Z0-9-_]{1,38}$/;
export const workerTypePattern = /^[a-z]([-a-z0-9]{0,36}[a-z0-9])?$/;
export const taskQueueIdPattern = /^[a-zA-Z0-9-_]{1,38}\/[a-z]([-a-z0-9]{0,36}[a-z0-9])?$/;
export const projectIdPattern = /^[a-zA-Z0-9._/-]{1,500}$/;

export const SlugId = Type.String({ pattern: slugidPattern.source });
export const Identifier = Type.String({ pattern: identifierPattern.source, minLength: 1, maxLength: 38 });
export const TaskQueueId = Type.String({ pattern: taskQueueIdPattern.source });
const DateTime = Type.String({ format: 'date-time' });
export const MAX_DEPENDENCIES = 10_000;

export const PriorityEnum = Type.Union(
  ['highest', 'very-high', 'high', 'medium', 'low', 'very-low', 'lowest', 'normal'].map((p) =>
    Type.Literal(p),
  ),
);

export const TaskMetadata = Type.Object(
  {
    name: Type.String({ maxLength: 255 }),
    description: Type.String({ maxLength: 32768 }),
    owner: Type.String({ maxLength: 255 }),
    source: Type.String({ maxLength: 4096, pattern: '^(https?://|ssh://|git@)' }),
  },
  { additionalProperties: false },
);

export const CreateTaskRequest = Type.Object(
  {
    provisionerId: Type.Optional(Identifier),
    workerType: Type.Optional(Type.String({ pattern: workerTypePattern.source })),
    taskQueueId: Type.Optional(TaskQueueId),
    schedulerId: Type.Optional(Identifier),
    projectId: Type.Optional(Type.String({ pattern: projectIdPattern.source })),
    taskGroupId: Type.Optional(SlugId),
    dependencies: Type.Optional(Type.Array(SlugId, { uniqueItems: true })),
    requires: Type.Optional(Type.Union([Type.Literal('all-completed'), Type.Literal('all-resolved')])),
    routes: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 249 }), { maxItems: 64, uniqueItems: true }),
    ),
    priority: Type.Optional(PriorityEnum),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 49 })),
    created: DateTime,
    deadline: DateTime,
    expires: Type.Optional(DateTime),
    scopes: Type.Optional(Type.Array(Scope)),
    payload: Type.Object({}, { additionalProperties: true }),
    metadata: TaskMetadata,
    tags: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 4096 }))),
    extra: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { $id: 'create-task-request', additionalProperties: false, title: 'Task Definition Request' },
);

export const TaskDefinitionResponse = Type.Object(
  {
    provisionerId: Identifier,
    workerType: Identifier,
    taskQueueId: TaskQueueId,
    schedulerId: Identifier,
    projectId: Type.String(),
    taskGroupId: SlugId,
    dependencies: Type.Array(SlugId),
    requires: Type.String(),
    routes: Type.Array(Type.String()),
    priority: Type.String(),
    retries: Type.Integer(),
    created: DateTime,
    deadline: DateTime,
    expires: DateTime,
    scopes: Type.Array(Type.String()),
    payload: Type.Object({}, { additionalProperties: true }),
    metadata: TaskMetadata,
    tags: Type.Record(Type.String(), Type.String()),
    extra: Type.Object({}, { additionalProperties: true }),
  },
  { $id: 'task', additionalProperties: false, title: 'Task Definition' },
);

export const RunSchema = Type.Object(
  {
    runId: Type.Integer({ minimum: 0, maximum: 1000 }),
    state: Type.Union(['pending', 'running', 'completed', 'failed', 'exception'].map((s) => Type.Literal(s))),
    reasonCreated: Type.Union(
      ['scheduled', 'retry', 'task-retry', 'rerun', 'exception'].map((s) => Type.Literal(s)),
    ),
    reasonResolved: Type.Optional(
      Type.Union(
        [
          'completed',
          'failed',
          'deadline-exceeded',
          'canceled',
          'superseded',
          'claim-expired',
          'worker-shutdown',
          'malformed-payload',
          'resource-unavailable',
          'internal-error',
          'intermittent-task',
        ].map((s) => Type.Literal(s)),
      ),
    ),
    workerGroup: Type.Optional(Identifier),
    workerId: Type.Optional(Identifier),
    takenUntil: Type.Optional(DateTime),
    scheduled: DateTime,
    started: Type.Optional(DateTime),
    resolved: Type.Optional(DateTime),
  },
  { additionalProperties: false },
);

export const TaskStatusSchema = Type.Object(
  {
    taskId: SlugId,
    provisionerId: Identifier,
    workerType: Identifier,
    taskQueueId: TaskQueueId,
    schedulerId: Identifier,
    projectId: Type.String(),
    taskGroupId: SlugId,
    deadline: DateTime,
    expires: DateTime,
    retriesLeft: Type.Integer({ minimum: 0, maximum: 999 }),
    state: Type.Union(
      ['unscheduled', 'pending', 'running', 'completed', 'failed', 'exception'].map((s) => Type.Literal(s)),
    ),
    runs: Type.Array(RunSchema),
  },
  { $id: 'task-status', additionalProperties: false },
);

export const TaskStatusResponse = Type.Object(
  { status: TaskStatusSchema },
  { $id: 'task-status-response', additionalProperties: false },
);

export const TasksRequest = Type.Object(
  { taskIds: Type.Array(SlugId, { maxItems: 1000 }) },
  { $id: 'tasks-request', additionalProperties: false },
);
