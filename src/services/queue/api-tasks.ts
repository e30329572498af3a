import { Type } from '@sinclair/typebox';
import {
  decodeContinuation,
  encodeContinuation,
  keysetPage,
  pageSize,
} from '../../platform/api/pagination.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { ApiError } from '../../platform/errors.ts';
import type { QueueContext } from './context.ts';
import { createTask, taskFromRequest } from './create-task.ts';
import * as db from './db.ts';
import { publishTaskEvent } from './events.ts';
import {
  CreateTaskRequest,
  PriorityEnum,
  slugidPattern,
  TaskDefinitionResponse,
  TaskStatusResponse,
  TaskStatusSchema,
  TasksRequest,
} from './schemas.ts';
import {
  isResolvedState,
  prioritiesAtLeast,
  priorityRank,
  splitTaskQueueId,
  type TaskRecord,
  taskDefinition,
  taskState,
  taskStatus,
} from './task-record.ts';
import { rerun, resolveUnresolved, scheduleTask } from './transitions.ts';

const params = { taskId: slugidPattern };
const PageQuery = Type.Object({
  continuationToken: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
});

/** A task-scoped action (schedule, rerun, cancel) allowed by the scheduler, project or plain scope. */
const actionScopes = (action: string) => ({
  AnyOf: [
    `queue:${action}:<schedulerId>/<taskGroupId>/<taskId>`,
    `queue:${action}-in-project:<projectId>`,
    { AllOf: [`queue:${action}`, 'assume:scheduler-id:<schedulerId>/<taskGroupId>'] },
  ],
});

export function taskEndpoints(ctx: QueueContext): EndpointDeclaration[] {
  const load = async (taskId: string): Promise<TaskRecord> => {
    const task = await db.getTask(ctx.database, taskId);
    if (!task) throw new ApiError('ResourceNotFound', `task ${taskId} not found`);
    return task;
  };

  /** One page of the given taskIds, in the order given, leaving out tasks that do not exist. */
  async function pageOfTasks(taskIds: string[], query: { continuationToken?: string; limit?: number }) {
    const { ids, next } = pageOfIds(taskIds, query);
    const byId = new Map((await db.getTasks(ctx.database, ids)).map((t) => [t.taskId, t]));
    return {
      found: ids.flatMap((id) => byId.get(id) ?? []),
      continuation: next ? { continuationToken: next } : {},
    };
  }

  /** Loads, authorizes, then applies `change` to the locked task in a transaction; answers its status. */
  async function taskAction(
    taskId: string,
    authorize: (p: Record<string, unknown>) => void,
    change: (tx: Parameters<typeof db.getTask>[0], task: TaskRecord, now: Date) => Promise<void>,
  ) {
    const task = await load(taskId);
    authorize({
      taskId,
      schedulerId: task.schedulerId,
      taskGroupId: task.taskGroupId,
      projectId: task.projectId,
    });
    const updated = await ctx.database.transaction(async (tx) => {
      const locked = (await db.getTask(tx, taskId, true))!;
      await change(tx, locked, ctx.now());
      return locked;
    });
    return { status: taskStatus(updated) };
  }

  return [
    endpoint({
      name: 'task',
      method: 'get',
      route: '/task/<taskId>',
      params,
      scopes: 'queue:get-task:<taskId>',
      output: TaskDefinitionResponse,
      title: 'Get Task Definition',
      description: 'The task definition as it was created (with defaults filled in).',
      stability: 'stable',
      category: 'Tasks',
      handler: async ({ params }) => taskDefinition(await load(params.taskId)),
    }),
    endpoint({
      name: 'tasks',
      method: 'post',
      route: '/tasks',
      query: PageQuery,
      scopes: { AllOf: [{ each: 'queue:get-task:<taskId>', for: 'taskId', in: 'taskIds' }] },
      input: TasksRequest,
      output: Type.Object(
        {
          tasks: Type.Array(Type.Object({ taskId: Type.String(), task: TaskDefinitionResponse })),
          continuationToken: Type.Optional(Type.String()),
        },
        { $id: 'tasks-response' },
      ),
      title: 'Get Task Definitions',
      description: 'The definitions of several tasks; tasks that do not exist are left out.',
      stability: 'experimental',
      category: 'Tasks',
      handler: async ({ body, query, authorize }) => {
        authorize({ taskIds: body.taskIds });
        const { found, continuation } = await pageOfTasks(body.taskIds, query);
        return { tasks: found.map((t) => ({ taskId: t.taskId, task: taskDefinition(t) })), ...continuation };
      },
    }),
    endpoint({
      name: 'statuses',
      method: 'post',
      route: '/tasks/status',
      query: PageQuery,
      scopes: { AllOf: [{ each: 'queue:status:<taskId>', for: 'taskId', in: 'taskIds' }] },
      input: TasksRequest,
      output: Type.Object(
        {
          statuses: Type.Array(Type.Object({ taskId: Type.String(), status: TaskStatusSchema })),
          continuationToken: Type.Optional(Type.String()),
        },
        { $id: 'tasks-statuses-response' },
      ),
      title: 'Get Task Statuses',
      description: 'The statuses of several tasks; tasks that do not exist are left out.',
      stability: 'experimental',
      category: 'Tasks',
      handler: async ({ body, query, authorize }) => {
        authorize({ taskIds: body.taskIds });
        const { found, continuation } = await pageOfTasks(body.taskIds, query);
        return { statuses: found.map((t) => ({ taskId: t.taskId, status: taskStatus(t) })), ...continuation };
      },
    }),
    endpoint({
      name: 'status',
      method: 'get',
      route: '/task/<taskId>/status',
      params,
      scopes: 'queue:status:<taskId>',
      output: TaskStatusResponse,
      title: 'Get Task Status',
      description: 'The state of a task and of each of its runs.',
      stability: 'stable',
      category: 'Tasks',
      handler: async ({ params }) => ({ status: taskStatus(await load(params.taskId)) }),
    }),
    endpoint({
      name: 'createTask',
      method: 'put',
      route: '/task/<taskId>',
      params,
      scopes: {
        AllOf: [
          { each: '<scope>', for: 'scope', in: 'scopes' },
          { each: 'queue:route:<route>', for: 'route', in: 'routes' },
          'queue:create-task:project:<projectId>',
          'queue:scheduler-id:<schedulerId>',
          {
            AnyOf: [
              {
                each: 'queue:create-task:<priority>:<provisionerId>/<workerType>',
                for: 'priority',
                in: 'priorities',
              },
            ],
          },
        ],
      },
      input: CreateTaskRequest,
      output: TaskStatusResponse,
      title: 'Create New Task',
      description:
        'Creates a task. It becomes pending once its dependencies are satisfied (at once without any). ' +
        'Creating the same taskId again with the same definition answers its status; with another definition, 409.',
      stability: 'stable',
      category: 'Tasks',
      handler: async ({ params, body, authorize }) => {
        const task = taskFromRequest(params.taskId, body, ctx);
        authorize({
          scopes: task.scopes,
          routes: task.routes,
          projectId: task.projectId,
          schedulerId: task.schedulerId,
          priorities: prioritiesAtLeast(task.priority),
          ...splitTaskQueueId(task.taskQueueId),
        });
        const stored = await createTask(ctx, task);
        return { status: taskStatus(stored) };
      },
    }),
    endpoint({
      name: 'scheduleTask',
      method: 'post',
      route: '/task/<taskId>/schedule',
      params,
      scopes: actionScopes('schedule-task'),
      output: TaskStatusResponse,
      title: 'Schedule Defined Task',
      description: 'Makes an unscheduled task pending whatever its dependencies; a no-op on any other task.',
      stability: 'stable',
      category: 'Tasks',
      handler: async ({ params, authorize }) =>
        taskAction(params.taskId, authorize, async (tx, task, now) => {
          if (now >= task.deadline)
            throw new ApiError('RequestConflict', `task ${task.taskId} is past its deadline`);
          await scheduleTask(tx, task, now);
        }),
    }),
    endpoint({
      name: 'rerunTask',
      method: 'post',
      route: '/task/<taskId>/rerun',
      params,
      scopes: actionScopes('rerun-task'),
      output: TaskStatusResponse,
      title: 'Rerun a Resolved Task',
      description:
        'Gives a resolved (or unscheduled) task a new pending run, with its retries restored; a pending or running task is left as it is. At most 50 runs.',
      stability: 'stable',
      category: 'Tasks',
      handler: async ({ params, authorize }) =>
        taskAction(params.taskId, authorize, async (tx, task, now) => {
          if (now >= task.deadline)
            throw new ApiError(
              'RequestConflict',
              `task ${task.taskId} is past its deadline and cannot be rerun`,
            );
          const state = taskState(task);
          if (state === 'pending' || state === 'running') return;
          if (task.runs.length >= ctx.settings.maxRunsAllowed) {
            throw new ApiError(
              'RequestConflict',
              `task ${task.taskId} has reached the limit of ${ctx.settings.maxRunsAllowed} runs`,
            );
          }
          await rerun(tx, task, now, ctx.settings.maxRunsAllowed);
        }),
    }),
    endpoint({
      name: 'cancelTask',
      method: 'post',
      route: '/task/<taskId>/cancel',
      params,
      scopes: actionScopes('cancel-task'),
      output: TaskStatusResponse,
      title: 'Cancel Task',
      description:
        'Resolves an unresolved task as exception/canceled (a running worker learns it when it next reclaims or reports). A resolved task is left as it is.',
      stability: 'stable',
      category: 'Tasks',
      handler: async ({ params, authorize }) =>
        taskAction(params.taskId, authorize, async (tx, task, now) => {
          if (isResolvedState(taskState(task))) return;
          if (now >= task.deadline)
            throw new ApiError(
              'RequestConflict',
              `task ${task.taskId} is past its deadline and cannot be canceled`,
            );
          await resolveUnresolved(tx, task, 'canceled', now);
        }),
    }),
    endpoint({
      name: 'changeTaskPriority',
      method: 'post',
      route: '/task/<taskId>/priority',
      params,
      scopes: {
        AnyOf: ['queue:change-task-priority:<taskId>', 'queue:change-task-priority-in-queue:<taskQueueId>'],
      },
      input: Type.Object(
        { newPriority: PriorityEnum },
        { $id: 'change-task-priority-request', additionalProperties: false },
      ),
      output: TaskStatusResponse,
      title: 'Change Task Priority',
      description: 'Changes the priority of a task; a pending run is reordered in its queue at once.',
      stability: 'experimental',
      category: 'Tasks',
      handler: async ({ params, body, authorize }) => {
        const task = await load(params.taskId);
        authorize({ taskId: task.taskId, taskQueueId: task.taskQueueId });
        const updated = await ctx.database.transaction(async (tx) => {
          const locked = (await db.getTask(tx, params.taskId, true))!;
          if (ctx.now() >= locked.deadline) {
            throw new ApiError('RequestConflict', `task ${locked.taskId} is past its deadline`);
          }
          if (locked.everResolved || locked.resolved) {
            throw new ApiError(
              'RequestConflict',
              `task ${locked.taskId} has been resolved and cannot be reprioritized`,
            );
          }
          if (locked.priority === body.newPriority) {
            throw new ApiError(
              'RequestConflict',
              `task ${locked.taskId} already has priority ${body.newPriority}`,
            );
          }
          const oldPriority = locked.priority;
          locked.priority = body.newPriority;
          await db.saveTaskState(tx, locked);
          await tx.query('update queue_pending set priority = $2 where task_id = $1', [
            locked.taskId,
            priorityRank(locked.priority),
          ]);
          await publishTaskEvent(tx, 'task-priority-changed', locked, {
            oldPriority,
            newPriority: locked.priority,
          });
          return locked;
        });
        return { status: taskStatus(updated) };
      },
    }),
    endpoint({
      name: 'listDependentTasks',
      method: 'get',
      route: '/task/<taskId>/dependents',
      params,
      query: PageQuery,
      scopes: 'queue:list-dependent-tasks:<taskId>',
      output: Type.Object(
        {
          taskId: Type.String(),
          tasks: Type.Array(Type.Object({ status: TaskStatusSchema, task: TaskDefinitionResponse })),
          continuationToken: Type.Optional(Type.String()),
        },
        { $id: 'list-dependent-tasks-response' },
      ),
      title: 'List Dependent Tasks',
      description: 'The tasks that depend on this one, a page at a time.',
      stability: 'stable',
      category: 'Tasks',
      handler: async ({ params, query }) => {
        await load(params.taskId);
        const after = decodeContinuation(
          query.continuationToken,
          (v): v is { after: string } => typeof v.after === 'string',
        );
        const limit = pageSize(query.limit);
        const res = await ctx.database.query<{ id: string }>(
          `select dependent_task_id as id from queue_task_dependencies
           where required_task_id = $1 and ($2::text is null or dependent_task_id > $2)
           order by dependent_task_id limit $3`,
          [params.taskId, after?.after ?? null, limit + 1],
        );
        const { page, continuation } = keysetPage(res.rows, limit, (last) => ({ after: last.id }));
        const tasks = await db.taskEntries(
          ctx.database,
          page.map((r) => r.id),
        );
        return { taskId: params.taskId, tasks, ...continuation };
      },
    }),
  ];
}

function pageOfIds(taskIds: string[], query: { continuationToken?: string; limit?: number }) {
  const at = decodeContinuation(query.continuationToken, (v): v is { offset: number } =>
    Number.isInteger(v.offset),
  );
  const offset = at?.offset ?? 0;
  const limit = pageSize(query.limit);
  const end = offset + limit;
  return {
    ids: taskIds.slice(offset, end),
    next: end < taskIds.length ? encodeContinuation({ offset: end }) : undefined,
  };
}
