/**
 * Task queues, provisioners, worker types and workers: their rows, the schemas of the endpoints
 * that show them, and the JSON those endpoints answer with.
 */
import { type Static, Type } from '@sinclair/typebox';
import { Identifier, SlugId, TaskDefinitionResponse, TaskQueueId } from './schemas.ts';
import { splitTaskQueueId } from './task-record.ts';

const DateTime = Type.String({ format: 'date-time' });
const ProvisionerId = Type.String({ pattern: '^[a-zA-Z0-9-_]{1,38}$' });
const WorkerType = Type.String({ pattern: '^[a-z]([-a-z0-9]{0,36}[a-z0-9])?$' });
const RunId = Type.Integer({ minimum: 0, maximum: 1000 });
export const Stability = Type.Union([
  Type.Literal('experimental'),
  Type.Literal('stable'),
  Type.Literal('deprecated'),
]);
const Description = Type.String({ maxLength: 32768 });

/** v87's provisioner/worker-type/worker actions (Taskyard stores what is declared; usually none). */
export const Action = Type.Object(
  {
    name: Type.String(),
    title: Type.String(),
    context: Type.Union([Type.Literal('provisioner'), Type.Literal('worker-type'), Type.Literal('worker')]),
    url: Type.String(),
    method: Type.Union([
      Type.Literal('POST'),
      Type.Literal('PUT'),
      Type.Literal('DELETE'),
      Type.Literal('PATCH'),
    ]),
    description: Type.String(),
  },
  { additionalProperties: false },
);
export type ActionJson = Static<typeof Action>;

const Continuation = Type.Optional(Type.String());

// ---------------------------------------------------------------------------------------------
// Rows

export interface TaskQueueRow {
  taskQueueId: string;
  expires: Date;
  lastDateActive: Date;
  description: string;
  stability: string;
}

export interface ProvisionerRow {
  provisionerId: string;
  expires: Date;
  lastDateActive: Date;
  description: string;
  stability: string;
  actions: ActionJson[];
}

export interface RecentTask {
  taskId: string;
  runId: number;
}

export interface QuarantineDetail {
  clientId: string;
  quarantineUntil: string;
  updatedAt: string;
  quarantineInfo: string;
}

export interface WorkerRow {
  taskQueueId: string;
  workerGroup: string;
  workerId: string;
  quarantineUntil: Date | null;
  quarantineDetails: QuarantineDetail[];
  expires: Date;
  firstClaim: Date;
  lastDateActive: Date | null;
  recentTasks: RecentTask[];
}

export const taskQueueColumns = `task_queue_id as "taskQueueId", expires, last_date_active as "lastDateActive",
  description, stability`;

export const workerColumns = `task_queue_id as "taskQueueId", worker_group as "workerGroup",
  worker_id as "workerId", quarantine_until as "quarantineUntil", quarantine_details as "quarantineDetails",
  expires, first_claim as "firstClaim", last_date_active as "lastDateActive", recent_tasks as "recentTasks"`;

// ---------------------------------------------------------------------------------------------
// Counts and task lists

export const PendingTasksResponse = Type.Object(
  {
    provisionerId: ProvisionerId,
    workerType: WorkerType,
    taskQueueId: TaskQueueId,
    pendingTasks: Type.Integer({ minimum: 0 }),
  },
  { $id: 'pending-tasks-response', additionalProperties: false, title: 'Count Pending Tasks Response' },
);

export const TaskQueueCountsResponse = Type.Object(
  {
    provisionerId: ProvisionerId,
    workerType: WorkerType,
    taskQueueId: TaskQueueId,
    pendingTasks: Type.Integer({ minimum: 0 }),
    claimedTasks: Type.Integer({ minimum: 0 }),
  },
  { $id: 'task-queue-counts-response', additionalProperties: false, title: 'Task Queue Counts Response' },
);

export const ListPendingTasksResponse = Type.Object(
  {
    tasks: Type.Array(
      Type.Object(
        { taskId: SlugId, runId: RunId, task: TaskDefinitionResponse, inserted: DateTime },
        { additionalProperties: false },
      ),
    ),
    continuationToken: Continuation,
  },
  { $id: 'list-pending-tasks-response', additionalProperties: false, title: 'List Pending Tasks Response' },
);

export const ListClaimedTasksResponse = Type.Object(
  {
    tasks: Type.Array(
      Type.Object(
        {
          taskId: SlugId,
          runId: RunId,
          workerGroup: Identifier,
          workerId: Identifier,
          claimed: DateTime,
          task: TaskDefinitionResponse,
        },
        { additionalProperties: false },
      ),
    ),
    continuationToken: Continuation,
  },
  { $id: 'list-claimed-tasks-response', additionalProperties: false, title: 'List Claimed Tasks Response' },
);

// ---------------------------------------------------------------------------------------------
// Task queues and worker types

const taskQueueFields = {
  taskQueueId: TaskQueueId,
  stability: Stability,
  description: Type.String(),
  expires: DateTime,
  lastDateActive: DateTime,
};

export const TaskQueueResponse = Type.Object(taskQueueFields, {
  $id: 'taskqueue-response',
  additionalProperties: false,
  title: 'Task Queue Response',
});

export const ListTaskQueuesResponse = Type.Object(
  {
    taskQueues: Type.Array(Type.Object(taskQueueFields, { additionalProperties: false })),
    continuationToken: Continuation,
  },
  { $id: 'list-taskqueues-response', additionalProperties: false, title: 'List Task Queues Response' },
);

const workerTypeFields = { provisionerId: ProvisionerId, workerType: WorkerType, ...taskQueueFields };

export const WorkerTypeResponse = Type.Object(
  { ...workerTypeFields, actions: Type.Array(Action) },
  { $id: 'workertype-response', additionalProperties: false, title: 'Worker-type Response' },
);

export const ListWorkerTypesResponse = Type.Object(
  {
    workerTypes: Type.Array(Type.Object(workerTypeFields, { additionalProperties: false })),
    continuationToken: Continuation,
  },
  { $id: 'list-workertypes-response', additionalProperties: false, title: 'List Worker-types Response' },
);

export const UpdateWorkerTypeRequest = Type.Object(
  {
    stability: Type.Optional(Stability),
    description: Type.Optional(Description),
    expires: Type.Optional(DateTime),
  },
  { $id: 'update-workertype-request', additionalProperties: false, title: 'Request to Update a Worker-type' },
);

export function taskQueueJson(row: TaskQueueRow) {
  return {
    taskQueueId: row.taskQueueId,
    stability: stabilityOf(row.stability),
    description: row.description,
    expires: row.expires.toJSON(),
    lastDateActive: row.lastDateActive.toJSON(),
  };
}

export function workerTypeJson(row: TaskQueueRow) {
  return { ...splitTaskQueueId(row.taskQueueId), ...taskQueueJson(row) };
}

// ---------------------------------------------------------------------------------------------
// Provisioners

const provisionerFields = {
  provisionerId: ProvisionerId,
  stability: Stability,
  description: Type.String(),
  expires: DateTime,
  lastDateActive: DateTime,
  actions: Type.Array(Action),
};

export const ProvisionerResponse = Type.Object(provisionerFields, {
  $id: 'provisioner-response',
  additionalProperties: false,
  title: 'Provisioner Response',
});

export const ListProvisionersResponse = Type.Object(
  {
    provisioners: Type.Array(Type.Object(provisionerFields, { additionalProperties: false })),
    continuationToken: Continuation,
  },
  { $id: 'list-provisioners-response', additionalProperties: false, title: 'List Provisioners Response' },
);

export const UpdateProvisionerRequest = Type.Object(
  {
    stability: Type.Optional(Stability),
    description: Type.Optional(Description),
    expires: Type.Optional(DateTime),
    actions: Type.Optional(Type.Array(Action)),
  },
  { $id: 'update-provisioner-request', additionalProperties: false, title: 'Provisioner Request' },
);

export function provisionerJson(row: ProvisionerRow) {
  return {
    provisionerId: row.provisionerId,
    stability: stabilityOf(row.stability),
    description: row.description,
    expires: row.expires.toJSON(),
    lastDateActive: row.lastDateActive.toJSON(),
    actions: row.actions,
  };
}

// ---------------------------------------------------------------------------------------------
// Workers

const RecentTaskSchema = Type.Object({ taskId: SlugId, runId: RunId }, { additionalProperties: false });

export const WorkerResponse = Type.Object(
  {
    provisionerId: ProvisionerId,
    workerType: WorkerType,
    taskQueueId: TaskQueueId,
    workerGroup: Identifier,
    workerId: Identifier,
    recentTasks: Type.Array(RecentTaskSchema),
    expires: DateTime,
    quarantineUntil: Type.Optional(DateTime),
    quarantineDetails: Type.Optional(
      Type.Array(
        Type.Object(
          {
            clientId: Type.String(),
            quarantineUntil: DateTime,
            updatedAt: DateTime,
            quarantineInfo: Type.String(),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    firstClaim: DateTime,
    lastDateActive: Type.Optional(DateTime),
    actions: Type.Array(Action),
  },
  { $id: 'worker-response', additionalProperties: false, title: 'Worker Response' },
);

export const ListWorkersResponse = Type.Object(
  {
    workers: Type.Array(
      Type.Object(
        {
          workerGroup: Identifier,
          workerId: Identifier,
          quarantineUntil: Type.Optional(DateTime),
          firstClaim: DateTime,
          latestTask: Type.Optional(RecentTaskSchema),
          lastDateActive: Type.Optional(DateTime),
        },
        { additionalProperties: false },
      ),
    ),
    continuationToken: Continuation,
  },
  { $id: 'list-workers-response', additionalProperties: false, title: 'List Workers Response' },
);

export const QuarantineWorkerRequest = Type.Object(
  { quarantineUntil: DateTime, quarantineInfo: Type.Optional(Type.String({ maxLength: 4000 })) },
  { $id: 'quarantine-worker-request', additionalProperties: false, title: 'Quarantine Worker Request' },
);

export const UpdateWorkerRequest = Type.Object(
  { expires: Type.Optional(DateTime) },
  { $id: 'update-worker-request', additionalProperties: false, title: 'Worker Request' },
);

const TEN_YEARS_MS = 10 * 365 * 24 * 3600_000;

/**
 * The worker as getWorker shows it. `quarantineUntil` is always there, as upstream has it: a
 * worker never quarantined shows a date well in the past.
 */
export function workerJson(row: WorkerRow) {
  const quarantineUntil = row.quarantineUntil ?? new Date(row.firstClaim.getTime() - TEN_YEARS_MS);
  return {
    ...splitTaskQueueId(row.taskQueueId),
    taskQueueId: row.taskQueueId,
    workerGroup: row.workerGroup,
    workerId: row.workerId,
    recentTasks: row.recentTasks.map((t) => ({ taskId: t.taskId, runId: t.runId })),
    expires: row.expires.toJSON(),
    quarantineUntil: quarantineUntil.toJSON(),
    quarantineDetails: row.quarantineDetails,
    firstClaim: row.firstClaim.toJSON(),
    ...(row.lastDateActive ? { lastDateActive: row.lastDateActive.toJSON() } : {}),
    actions: [],
  };
}

/** One listWorkers item: `quarantineUntil` only while the quarantine lasts. */
export function workerListItem(row: WorkerRow, now: Date) {
  const latest = row.recentTasks[row.recentTasks.length - 1];
  return {
    workerGroup: row.workerGroup,
    workerId: row.workerId,
    ...(row.quarantineUntil && row.quarantineUntil > now
      ? { quarantineUntil: row.quarantineUntil.toJSON() }
      : {}),
    firstClaim: row.firstClaim.toJSON(),
    ...(latest ? { latestTask: { taskId: latest.taskId, runId: latest.runId } } : {}),
    ...(row.lastDateActive ? { lastDateActive: row.lastDateActive.toJSON() } : {}),
  };
}

/** Rows written by older code or by hand may hold anything; the API only speaks the three. */
function stabilityOf(s: string): 'experimental' | 'stable' | 'deprecated' {
  return s === 'stable' || s === 'deprecated' ? s : 'experimental';
}
