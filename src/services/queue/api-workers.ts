import { Type } from '@sinclair/typebox';
import { decodeContinuation, encodeContinuation, pageSize } from '../../platform/api/pagination.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { notifyAfterCommit } from '../../platform/db/index.ts';
import { ApiError } from '../../platform/errors.ts';
import { liveTaskQueue, PageQuery, taskQueueEndpoints } from './api-worker-types.ts';
import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { identifierPattern, taskQueueIdPattern, workerTypePattern } from './schemas.ts';
import { splitTaskQueueId, type TaskRecord, taskDefinition } from './task-record.ts';
import { WORKER_CHANNEL, workerKey } from './worker-info.ts';
import {
  ListClaimedTasksResponse,
  ListPendingTasksResponse,
  ListWorkersResponse,
  PendingTasksResponse,
  QuarantineWorkerRequest,
  TaskQueueCountsResponse,
  UpdateWorkerRequest,
  WorkerResponse,
  type WorkerRow,
  workerColumns,
  workerJson,
  workerListItem,
} from './worker-json.ts';

const DAY_MS = 24 * 3600_000;

const taskQueueParams = { taskQueueId: taskQueueIdPattern };
const workerTypeParams = { provisionerId: identifierPattern, workerType: identifierPattern };
const workerParams = { ...workerTypeParams, workerGroup: identifierPattern, workerId: identifierPattern };

/** Task queues, provisioners, worker types and workers; pending and claimed counts and lists. */
export function workerEndpoints(ctx: QueueContext): EndpointDeclaration[] {
  // Gated entries (migration 0012) are not counted nor listed: their tasks are still unscheduled.
  const pendingCount = async (taskQueueId: string): Promise<number> => {
    const res = await ctx.database.query<{ n: number }>(
      `select count(*)::int as n from queue_pending p join queue_tasks t on t.task_id = p.task_id
       where p.task_queue_id = $1 and p.gate is null and t.deadline > $2`,
      [taskQueueId, ctx.now()],
    );
    return res.rows[0].n;
  };

  const claimedCount = async (taskQueueId: string): Promise<number> => {
    const res = await ctx.database.query<{ n: number }>(
      'select count(*)::int as n from queue_tasks where task_queue_id = $1 and taken_until is not null',
      [taskQueueId],
    );
    return res.rows[0].n;
  };

  const tasksById = async (taskIds: string[]): Promise<Map<string, TaskRecord>> =>
    new Map((await db.getTasks(ctx.database, taskIds)).map((t) => [t.taskId, t]));

  /** A worker as getWorker may show it: present, alive (or quarantined), of a live task queue. */
  const getWorker = async (p: Record<string, string>) => {
    const taskQueueId = `${p.provisionerId}/${p.workerType}`;
    const now = ctx.now();
    const res = await ctx.database.query<WorkerRow>(
      `select ${workerColumns} from queue_workers
       where task_queue_id = $1 and worker_group = $2 and worker_id = $3
         and (expires > $4 or quarantine_until > $4)`,
      [taskQueueId, p.workerGroup, p.workerId, now],
    );
    const row = res.rows[0];
    if (!row || !(await liveTaskQueue(ctx.database, taskQueueId, now))) {
      throw new ApiError(
        'ResourceNotFound',
        `worker ${p.workerGroup}/${p.workerId} of task queue ${taskQueueId} not found: it has not claimed work recently and is not declared (or it expired)`,
      );
    }
    return workerJson(row);
  };

  return [
    ...taskQueueEndpoints(ctx),
    endpoint({
      name: 'pendingTasks',
      method: 'get',
      route: '/pending/<taskQueueId>',
      params: taskQueueParams,
      scopes: 'queue:pending-count:<taskQueueId>',
      output: PendingTasksResponse,
      title: 'Get Number of Pending Tasks',
      description:
        'How many tasks of the task queue wait for a worker (pending runs whose deadline has not passed). ' +
        'Deprecated: use taskQueueCounts.',
      stability: 'deprecated',
      category: 'Worker Interface',
      handler: async ({ params }) => ({
        ...splitTaskQueueId(params.taskQueueId),
        taskQueueId: params.taskQueueId,
        pendingTasks: await pendingCount(params.taskQueueId),
      }),
    }),
    endpoint({
      name: 'taskQueueCounts',
      method: 'get',
      route: '/task-queues/<taskQueueId>/counts',
      params: taskQueueParams,
      scopes: { AllOf: ['queue:pending-count:<taskQueueId>', 'queue:claimed-count:<taskQueueId>'] },
      output: TaskQueueCountsResponse,
      title: 'Get Number of Pending and Claimed Tasks',
      description:
        'How many tasks of the task queue wait for a worker (pending runs whose deadline has not passed), ' +
        'and how many are claimed by one.',
      stability: 'stable',
      category: 'Worker Interface',
      handler: async ({ params }) => ({
        ...splitTaskQueueId(params.taskQueueId),
        taskQueueId: params.taskQueueId,
        pendingTasks: await pendingCount(params.taskQueueId),
        claimedTasks: await claimedCount(params.taskQueueId),
      }),
    }),
    endpoint({
      name: 'listPendingTasks',
      method: 'get',
      route: '/task-queues/<taskQueueId>/pending',
      params: taskQueueParams,
      query: PageQuery,
      scopes: 'queue:pending-list:<taskQueueId>',
      output: ListPendingTasksResponse,
      title: 'List Pending Tasks',
      description:
        'The pending tasks of the task queue, oldest first, a page at a time; `inserted` is when the run became pending.',
      stability: 'experimental',
      category: 'Worker Interface',
      handler: async ({ params, query }) => {
        const limit = pageSize(query.limit);
        const after = decodeContinuation(
          query.continuationToken,
          (v): v is { inserted: string } => typeof v.inserted === 'string' && /^[0-9]+$/.test(v.inserted),
        );
        const res = await ctx.database.query<{ taskId: string; runId: number; inserted: string }>(
          `select p.task_id as "taskId", p.run_id as "runId", p.inserted::text as inserted
           from queue_pending p join queue_tasks t on t.task_id = p.task_id
           where p.task_queue_id = $1 and p.gate is null and t.deadline > $2
             and ($3::bigint is null or p.inserted > $3)
           order by p.inserted limit $4`,
          [params.taskQueueId, ctx.now(), after?.inserted ?? null, limit + 1],
        );
        const rows = res.rows.slice(0, limit);
        const tasks = await tasksById(rows.map((r) => r.taskId));
        const items = rows.flatMap((r) => {
          const task = tasks.get(r.taskId);
          const run = task?.runs[r.runId];
          if (!task || !run) return [];
          return [{ taskId: r.taskId, runId: r.runId, task: taskDefinition(task), inserted: run.scheduled }];
        });
        const last = rows[rows.length - 1];
        return {
          tasks: items,
          ...(res.rows.length > limit && last
            ? { continuationToken: encodeContinuation({ inserted: last.inserted }) }
            : {}),
        };
      },
    }),
    endpoint({
      name: 'listClaimedTasks',
      method: 'get',
      route: '/task-queues/<taskQueueId>/claimed',
      params: taskQueueParams,
      query: PageQuery,
      scopes: 'queue:claimed-list:<taskQueueId>',
      output: ListClaimedTasksResponse,
      title: 'List Claimed Tasks',
      description:
        'The claimed (running) tasks of the task queue, earliest claim first, a page at a time, with the worker holding each.',
      stability: 'experimental',
      category: 'Worker Interface',
      handler: async ({ params, query }) => {
        const limit = pageSize(query.limit);
        const after = decodeContinuation(
          query.continuationToken,
          (v): v is { claimed: string; taskId: string } =>
            typeof v.claimed === 'string' &&
            !Number.isNaN(Date.parse(v.claimed)) &&
            typeof v.taskId === 'string',
        );
        const res = await ctx.database.query<{ taskId: string; claimed: Date }>(
          `select "taskId", claimed from (
             select task_id as "taskId", (runs -> -1 ->> 'started')::timestamptz as claimed
             from queue_tasks where task_queue_id = $1 and taken_until is not null
           ) c
           where claimed is not null
             and ($2::timestamptz is null or (claimed, "taskId") > ($2::timestamptz, $3::text))
           order by claimed, "taskId" limit $4`,
          [params.taskQueueId, after?.claimed ?? null, after?.taskId ?? null, limit + 1],
        );
        const rows = res.rows.slice(0, limit);
        const tasks = await tasksById(rows.map((r) => r.taskId));
        const items = rows.flatMap((r) => {
          const task = tasks.get(r.taskId);
          const run = task?.runs[task.runs.length - 1];
          if (!task || !run || run.state !== 'running' || !run.workerGroup || !run.workerId) return [];
          return [
            {
              taskId: r.taskId,
              runId: run.runId,
              workerGroup: run.workerGroup,
              workerId: run.workerId,
              claimed: r.claimed.toJSON(),
              task: taskDefinition(task),
            },
          ];
        });
        const last = rows[rows.length - 1];
        return {
          tasks: items,
          ...(res.rows.length > limit && last
            ? {
                continuationToken: encodeContinuation({
                  claimed: last.claimed.toJSON(),
                  taskId: last.taskId,
                }),
              }
            : {}),
        };
      },
    }),
    endpoint({
      name: 'listWorkers',
      method: 'get',
      route: '/provisioners/<provisionerId>/worker-types/<workerType>/workers',
      params: workerTypeParams,
      query: Type.Object({
        ...PageQuery.properties,
        quarantined: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
      }),
      scopes: 'queue:list-workers:<provisionerId>/<workerType>',
      output: ListWorkersResponse,
      title: 'Get a list of all active workers of a workerType',
      description:
        'The workers of the task queue `<provisionerId>/<workerType>` that claimed work recently, were declared, or are quarantined, ' +
        'ordered by workerGroup and workerId, a page at a time. `quarantined=true` lists only quarantined workers, ' +
        '`quarantined=false` only the others.',
      stability: 'deprecated',
      category: 'Worker Metadata',
      handler: async ({ params, query }) => {
        const limit = pageSize(query.limit);
        const after = decodeContinuation(
          query.continuationToken,
          (v): v is { workerGroup: string; workerId: string } =>
            typeof v.workerGroup === 'string' && typeof v.workerId === 'string',
        );
        const now = ctx.now();
        const quarantined = query.quarantined === undefined ? null : query.quarantined === 'true';
        const res = await ctx.database.query<WorkerRow>(
          `select ${workerColumns} from queue_workers
           where task_queue_id = $1 and (expires > $2 or quarantine_until > $2)
             and ($3::boolean is null or coalesce(quarantine_until > $2, false) = $3)
             and ($4::text is null or (worker_group, worker_id) > ($4::text, $5::text))
           order by worker_group, worker_id limit $6`,
          [
            `${params.provisionerId}/${params.workerType}`,
            now,
            quarantined,
            after?.workerGroup ?? null,
            after?.workerId ?? null,
            limit + 1,
          ],
        );
        const items = res.rows.slice(0, limit);
        const last = items[items.length - 1];
        return {
          workers: items.map((r) => workerListItem(r, now)),
          ...(res.rows.length > limit && last
            ? {
                continuationToken: encodeContinuation({
                  workerGroup: last.workerGroup,
                  workerId: last.workerId,
                }),
              }
            : {}),
        };
      },
    }),
    endpoint({
      name: 'getWorker',
      method: 'get',
      route: '/provisioners/<provisionerId>/worker-types/<workerType>/workers/<workerGroup>/<workerId>',
      params: workerParams,
      scopes: 'queue:get-worker:<provisionerId>/<workerType>/<workerGroup>/<workerId>',
      output: WorkerResponse,
      title: 'Get a worker',
      description:
        'One worker: when it first claimed work, its recent tasks (the last 20) and its quarantine, if any.',
      stability: 'deprecated',
      category: 'Worker Metadata',
      handler: async ({ params }) => getWorker(params),
    }),
    endpoint({
      name: 'quarantineWorker',
      method: 'put',
      route: '/provisioners/<provisionerId>/worker-types/<workerType>/workers/<workerGroup>/<workerId>',
      params: workerParams,
      scopes: { AllOf: ['queue:quarantine-worker:<provisionerId>/<workerType>/<workerGroup>/<workerId>'] },
      input: QuarantineWorkerRequest,
      output: WorkerResponse,
      title: 'Quarantine a worker',
      description:
        'Quarantines a worker until `quarantineUntil`: it gets no work from claimWork until then. A time in the past lifts ' +
        'the quarantine. Each call is kept in `quarantineDetails` with who made it and why (`quarantineInfo`).',
      stability: 'experimental',
      category: 'Worker Metadata',
      handler: async ({ params, body, clientId }) => {
        const now = ctx.now();
        const quarantineUntil = new Date(body.quarantineUntil);
        const detail = {
          clientId: clientId ?? '',
          quarantineUntil: quarantineUntil.toJSON(),
          updatedAt: now.toJSON(),
          quarantineInfo: body.quarantineInfo ?? '[unspecified]',
        };
        const key = {
          taskQueueId: `${params.provisionerId}/${params.workerType}`,
          workerGroup: params.workerGroup,
          workerId: params.workerId,
        };
        // The notification that makes every process forget its sighting of the worker is sent
        // by the same statement, so it cannot be lost once the quarantine is committed.
        const res = await ctx.database.query<WorkerRow>(
          `with w as (
             update queue_workers set quarantine_until = $4,
               quarantine_details = quarantine_details || jsonb_build_array($5::jsonb),
               expires = greatest(expires, $6)
             where task_queue_id = $1 and worker_group = $2 and worker_id = $3
             returning ${workerColumns}
           )
           select w.*, pg_notify($7, $8) from w`,
          [
            key.taskQueueId,
            key.workerGroup,
            key.workerId,
            quarantineUntil,
            JSON.stringify(detail),
            new Date(now.getTime() + DAY_MS),
            WORKER_CHANNEL,
            workerKey(key),
          ],
        );
        const row = res.rows[0];
        if (!row) {
          throw new ApiError(
            'ResourceNotFound',
            `worker ${params.workerGroup}/${params.workerId} of task queue ${params.provisionerId}/${params.workerType} not found: only a worker that has claimed work (or was declared) can be quarantined`,
          );
        }
        // This process forgets its sighting before answering (the notification comes back later).
        await notifyAfterCommit(ctx.database, WORKER_CHANNEL, workerKey(key), { localOnly: true });
        return workerJson(row);
      },
    }),
    endpoint({
      name: 'declareWorker',
      method: 'put',
      route: '/provisioners/<provisionerId>/worker-types/<workerType>/<workerGroup>/<workerId>',
      params: { ...workerParams, workerType: workerTypePattern },
      scopes: {
        AllOf: [
          {
            each: 'queue:declare-worker:<provisionerId>/<workerType>/<workerGroup>/<workerId>#<property>',
            for: 'property',
            in: 'properties',
          },
        ],
      },
      input: UpdateWorkerRequest,
      output: WorkerResponse,
      title: 'Declare a worker',
      description:
        'Records a worker (and its task queue) as if it had claimed work, or sets when an existing one expires. Each ' +
        'property given needs its own scope (`queue:declare-worker:<provisionerId>/<workerType>/<workerGroup>/<workerId>#<property>`). ' +
        'Without `expires`, a new worker lives a day. A body with no properties changes nothing.',
      stability: 'experimental',
      category: 'Worker Metadata',
      handler: async ({ params, body, authorize }) => {
        authorize({ properties: Object.keys(body) });
        if (Object.keys(body).length === 0) return getWorker(params);
        const now = ctx.now();
        const taskQueueId = `${params.provisionerId}/${params.workerType}`;
        const expires = body.expires ? new Date(body.expires) : null;
        const inADay = new Date(now.getTime() + DAY_MS);
        return ctx.database.transaction(async (tx) => {
          await tx.query(
            `insert into queue_task_queues (task_queue_id, expires, last_date_active) values ($1, $2, $3)
             on conflict (task_queue_id) do update set
               expires = greatest(queue_task_queues.expires, excluded.expires),
               last_date_active = excluded.last_date_active`,
            [taskQueueId, expires ?? inADay, now],
          );
          const res = await tx.query<WorkerRow>(
            `insert into queue_workers (task_queue_id, worker_group, worker_id, expires, first_claim, last_date_active)
             values ($1, $2, $3, coalesce($4::timestamptz, $5::timestamptz), $6, $6)
             on conflict (task_queue_id, worker_group, worker_id) do update set
               expires = coalesce($4::timestamptz, queue_workers.expires)
             returning ${workerColumns}`,
            [taskQueueId, params.workerGroup, params.workerId, expires, inADay, now],
          );
          return workerJson(res.rows[0]);
        });
      },
    }),
  ];
}
