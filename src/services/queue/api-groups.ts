import { Type } from '@sinclair/typebox';
import { decodeContinuation, keysetPage, pageSize } from '../../platform/api/pagination.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { ApiError } from '../../platform/errors.ts';
import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { publishTaskGroupEvent } from './events.ts';
import { PriorityEnum, SlugId, slugidPattern, TaskDefinitionResponse, TaskStatusSchema } from './schemas.ts';
import { priorityRank } from './task-record.ts';
import { resolveUnresolved } from './transitions.ts';

const params = { taskGroupId: slugidPattern };
const DateTime = Type.String({ format: 'date-time' });
const groupFields = {
  taskGroupId: SlugId,
  schedulerId: Type.String(),
  expires: DateTime,
  sealed: Type.Optional(DateTime),
};
const TaskGroupResponse = Type.Object(groupFields, {
  $id: 'task-group-response',
  additionalProperties: false,
});

interface GroupRow {
  taskGroupId: string;
  schedulerId: string;
  expires: Date;
  sealed: Date | null;
}

/** Tasks are cancelled in transactions of this many, so a huge group never holds one long lock. */
const CANCEL_BATCH = 200;

export function groupEndpoints(ctx: QueueContext): EndpointDeclaration[] {
  async function loadGroup(taskGroupId: string): Promise<GroupRow> {
    const res = await ctx.database.query<GroupRow>(
      `select task_group_id as "taskGroupId", scheduler_id as "schedulerId", expires, sealed
       from queue_task_groups where task_group_id = $1`,
      [taskGroupId],
    );
    if (!res.rows[0]) throw new ApiError('ResourceNotFound', `task group ${taskGroupId} not found`);
    return res.rows[0];
  }
  const groupJson = (g: GroupRow) => ({
    taskGroupId: g.taskGroupId,
    schedulerId: g.schedulerId,
    expires: g.expires.toJSON(),
    ...(g.sealed ? { sealed: g.sealed.toJSON() } : {}),
  });

  return [
    endpoint({
      name: 'listTaskGroup',
      method: 'get',
      route: '/task-group/<taskGroupId>/list',
      params,
      query: Type.Object({
        continuationToken: Type.Optional(Type.String()),
        limit: Type.Optional(Type.Integer({ minimum: 0 })),
      }),
      scopes: 'queue:list-task-group:<taskGroupId>',
      output: Type.Object(
        {
          ...groupFields,
          tasks: Type.Array(Type.Object({ status: TaskStatusSchema, task: TaskDefinitionResponse })),
          continuationToken: Type.Optional(Type.String()),
        },
        { $id: 'list-task-group-response', additionalProperties: false },
      ),
      title: 'List Task Group',
      description: 'The tasks of a group (definition and status), a page at a time, by taskId.',
      stability: 'stable',
      category: 'Task Groups',
      handler: async ({ params, query }) => {
        const group = await loadGroup(params.taskGroupId);
        const after = decodeContinuation(
          query.continuationToken,
          (v): v is { after: string } => typeof v.after === 'string',
        );
        const limit = pageSize(query.limit);
        const res = await ctx.database.query<{ taskId: string }>(
          `select task_id as "taskId" from queue_tasks where task_group_id = $1 and ($2::text is null or task_id > $2)
           order by task_id limit $3`,
          [params.taskGroupId, after?.after ?? null, limit + 1],
        );
        const { page, continuation } = keysetPage(res.rows, limit, (last) => ({ after: last.taskId }));
        const tasks = await db.taskEntries(
          ctx.database,
          page.map((r) => r.taskId),
        );
        return { ...groupJson(group), tasks, ...continuation };
      },
    }),
    endpoint({
      name: 'cancelTaskGroup',
      method: 'post',
      route: '/task-group/<taskGroupId>/cancel',
      params,
      scopes: 'queue:cancel-task-group:<schedulerId>/<taskGroupId>',
      output: Type.Object(
        {
          taskGroupId: SlugId,
          taskGroupSize: Type.Integer({ minimum: 0 }),
          cancelledCount: Type.Integer({ minimum: 0 }),
          taskIds: Type.Array(SlugId),
        },
        { $id: 'cancel-task-group-response', additionalProperties: false },
      ),
      title: 'Cancel Task Group',
      description:
        'Cancels every unresolved task of a sealed group (seal it first, so no task is added meanwhile). Answers which tasks were cancelled.',
      stability: 'experimental',
      category: 'Task Groups',
      handler: async ({ params, authorize }) => {
        const group = await loadGroup(params.taskGroupId);
        authorize({ schedulerId: group.schedulerId, taskGroupId: group.taskGroupId });
        if (!group.sealed) {
          throw new ApiError(
            'RequestConflict',
            `task group ${group.taskGroupId} must be sealed before it can be cancelled`,
          );
        }
        const size = await ctx.database.query<{ n: string }>(
          'select count(*) as n from queue_tasks where task_group_id = $1',
          [group.taskGroupId],
        );
        const cancelled: string[] = [];
        for (;;) {
          const batch = await ctx.database.transaction(async (tx) => {
            const res = await tx.query<{ taskId: string }>(
              `select task_id as "taskId" from queue_tasks where task_group_id = $1 and not resolved
               order by task_id limit $2 for update skip locked`,
              [group.taskGroupId, CANCEL_BATCH],
            );
            const done: string[] = [];
            for (const { taskId } of res.rows) {
              const task = (await db.getTask(tx, taskId, true))!;
              if (await resolveUnresolved(tx, task, 'canceled', ctx.now())) done.push(taskId);
            }
            return { seen: res.rows.length, done };
          });
          cancelled.push(...batch.done);
          if (batch.seen < CANCEL_BATCH) break;
        }
        return {
          taskGroupId: group.taskGroupId,
          taskGroupSize: Number(size.rows[0].n),
          cancelledCount: cancelled.length,
          taskIds: cancelled,
        };
      },
    }),
    endpoint({
      name: 'getTaskGroup',
      method: 'get',
      route: '/task-group/<taskGroupId>',
      params,
      scopes: 'queue:list-task-group:<taskGroupId>',
      output: TaskGroupResponse,
      title: 'Get Task Group',
      description: 'A task group: its schedulerId, expiry and when it was sealed.',
      stability: 'stable',
      category: 'Task Groups',
      handler: async ({ params }) => groupJson(await loadGroup(params.taskGroupId)),
    }),
    endpoint({
      name: 'sealTaskGroup',
      method: 'post',
      route: '/task-group/<taskGroupId>/seal',
      params,
      scopes: 'queue:seal-task-group:<schedulerId>/<taskGroupId>',
      output: TaskGroupResponse,
      title: 'Seal Task Group',
      description: 'Seals a task group: it takes no new tasks from then on. Sealing again changes nothing.',
      stability: 'experimental',
      category: 'Task Groups',
      handler: async ({ params, authorize }) => {
        const group = await loadGroup(params.taskGroupId);
        authorize({ schedulerId: group.schedulerId, taskGroupId: group.taskGroupId });
        const sealed = await ctx.database.transaction(async (tx) => {
          const res = await tx.query<GroupRow>(
            `update queue_task_groups set sealed = $2 where task_group_id = $1 and sealed is null
             returning task_group_id as "taskGroupId", scheduler_id as "schedulerId", expires, sealed`,
            [group.taskGroupId, ctx.now()],
          );
          if (res.rows[0]) await publishTaskGroupEvent(tx, 'task-group-sealed', res.rows[0]);
          return res.rows[0];
        });
        return groupJson(sealed ?? (await loadGroup(params.taskGroupId)));
      },
    }),
    endpoint({
      name: 'changeTaskGroupPriority',
      method: 'post',
      route: '/task-group/<taskGroupId>/priority',
      params,
      scopes: 'queue:change-task-group-priority:<schedulerId>/<taskGroupId>',
      input: Type.Object({ newPriority: PriorityEnum }, { additionalProperties: false }),
      output: Type.Object(
        {
          taskGroupId: SlugId,
          schedulerId: Type.String(),
          newPriority: Type.String(),
          tasksAffected: Type.Integer({ minimum: 0 }),
          taskIds: Type.Array(SlugId),
        },
        { $id: 'task-group-priority-change-response', additionalProperties: false },
      ),
      title: 'Change Task Group Priority',
      description:
        'Changes the priority of every unresolved task of the group; pending runs are reordered at once.',
      stability: 'experimental',
      category: 'Task Groups',
      handler: async ({ params, body, authorize }) => {
        const group = await loadGroup(params.taskGroupId);
        authorize({ schedulerId: group.schedulerId, taskGroupId: group.taskGroupId });
        const taskIds = await ctx.database.transaction(async (tx) => {
          const res = await tx.query<{ taskId: string }>(
            `update queue_tasks set priority = $2
             where task_group_id = $1 and not ever_resolved and not resolved and deadline > $3 and priority <> $2
             returning task_id as "taskId"`,
            [group.taskGroupId, body.newPriority, ctx.now()],
          );
          const ids = res.rows.map((r) => r.taskId);
          await tx.query('update queue_pending set priority = $2 where task_id = any($1)', [
            ids,
            priorityRank(body.newPriority),
          ]);
          await publishTaskGroupEvent(tx, 'task-group-priority-changed', group, {
            newPriority: body.newPriority,
            tasksAffected: ids.length,
          });
          return ids;
        });
        return {
          taskGroupId: group.taskGroupId,
          schedulerId: group.schedulerId,
          newPriority: body.newPriority,
          tasksAffected: taskIds.length,
          taskIds,
        };
      },
    }),
  ];
}
