/** The queue's view of one task row, and the pure rules over its runs. */

export type RunState = 'pending' | 'running' | 'completed' | 'failed' | 'exception';
export type TaskState = 'unscheduled' | RunState;
export type ReasonCreated = 'scheduled' | 'retry' | 'task-retry' | 'rerun' | 'exception';
export type ReasonResolved =
  | 'completed'
  | 'failed'
  | 'deadline-exceeded'
  | 'canceled'
  | 'superseded'
  | 'claim-expired'
  | 'worker-shutdown'
  | 'malformed-payload'
  | 'resource-unavailable'
  | 'internal-error'
  | 'intermittent-task';

export interface Run {
  runId: number;
  state: RunState;
  reasonCreated: ReasonCreated;
  reasonResolved?: ReasonResolved;
  workerGroup?: string;
  workerId?: string;
  takenUntil?: string;
  scheduled: string;
  started?: string;
  resolved?: string;
}

/** The next run of a task, pending from `now`. */
export function newPendingRun(task: Pick<TaskRecord, 'runs'>, reason: ReasonCreated, now: Date): Run {
  return { runId: task.runs.length, state: 'pending', reasonCreated: reason, scheduled: now.toJSON() };
}

export interface TaskRecord {
  taskId: string;
  taskGroupId: string;
  schedulerId: string;
  projectId: string;
  taskQueueId: string;
  dependencies: string[];
  requires: 'all-completed' | 'all-resolved';
  routes: string[];
  priority: string;
  retries: number;
  retriesLeft: number;
  created: Date;
  deadline: Date;
  expires: Date;
  scopes: string[];
  payload: Record<string, unknown>;
  metadata: { name: string; description: string; owner: string; source: string };
  tags: Record<string, string>;
  extra: Record<string, unknown>;
  runs: Run[];
  takenUntil: Date | null;
  unsatisfied: number;
  everResolved: boolean;
  resolved: boolean;
}

/** Priorities from most to least urgent; `normal` is the legacy name of `lowest`. */
export const PRIORITIES = ['highest', 'very-high', 'high', 'medium', 'low', 'very-low', 'lowest'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Larger is claimed first. */
export function priorityRank(priority: string): number {
  const p = priority === 'normal' ? 'lowest' : priority;
  const i = PRIORITIES.indexOf(p as Priority);
  return i < 0 ? 0 : PRIORITIES.length - i;
}

/** The priority itself and every more urgent one: creating at `p` needs a scope for any of them. */
export function prioritiesAtLeast(priority: string): string[] {
  const p = priority === 'normal' ? 'lowest' : priority;
  const i = PRIORITIES.indexOf(p as Priority);
  return PRIORITIES.slice(0, i + 1) as unknown as string[];
}

export function taskState(task: Pick<TaskRecord, 'runs'>): TaskState {
  return task.runs.length === 0 ? 'unscheduled' : task.runs[task.runs.length - 1].state;
}

export const isResolvedState = (s: TaskState): boolean =>
  s === 'completed' || s === 'failed' || s === 'exception';

/** Exceptions the queue retries while `retriesLeft` lasts, and the reasonCreated of the retry. */
export const RETRIED_EXCEPTIONS: Partial<Record<ReasonResolved, ReasonCreated>> = {
  'claim-expired': 'retry',
  'worker-shutdown': 'retry',
  'intermittent-task': 'task-retry',
};

export function splitTaskQueueId(taskQueueId: string): { provisionerId: string; workerType: string } {
  const i = taskQueueId.indexOf('/');
  return { provisionerId: taskQueueId.slice(0, i), workerType: taskQueueId.slice(i + 1) };
}

/** The task-status structure the API and the events show. */
export function taskStatus(task: TaskRecord) {
  const { provisionerId, workerType } = splitTaskQueueId(task.taskQueueId);
  return {
    taskId: task.taskId,
    provisionerId,
    workerType,
    taskQueueId: task.taskQueueId,
    schedulerId: task.schedulerId,
    projectId: task.projectId,
    taskGroupId: task.taskGroupId,
    deadline: task.deadline.toJSON(),
    expires: task.expires.toJSON(),
    retriesLeft: task.retriesLeft,
    state: taskState(task),
    runs: task.runs,
  };
}

/** The task definition as the API returns it. */
export function taskDefinition(task: TaskRecord) {
  const { provisionerId, workerType } = splitTaskQueueId(task.taskQueueId);
  return {
    provisionerId,
    workerType,
    taskQueueId: task.taskQueueId,
    schedulerId: task.schedulerId,
    projectId: task.projectId,
    taskGroupId: task.taskGroupId,
    dependencies: task.dependencies,
    requires: task.requires,
    routes: task.routes,
    priority: task.priority,
    retries: task.retries,
    created: task.created.toJSON(),
    deadline: task.deadline.toJSON(),
    expires: task.expires.toJSON(),
    scopes: task.scopes,
    payload: task.payload,
    metadata: task.metadata,
    tags: task.tags,
    extra: task.extra,
  };
}
