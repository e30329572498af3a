/**
 * Task queues, and the older names for them: provisioners (the part of a taskQueueId before the
 * `/`) and worker types (the task queues of one provisioner).
 */
import { Type } from '@sinclair/typebox';
import { decodeContinuation, encodeContinuation, pageSize } from '../../platform/api/pagination.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { ApiError } from '../../platform/errors.ts';
import type { QueueContext } from './context.ts';
import { identifierPattern, taskQueueIdPattern, workerTypePattern } from './schemas.ts';
import {
  ListProvisionersResponse,
  ListTaskQueuesResponse,
  ListWorkerTypesResponse,
  ProvisionerResponse,
  type ProvisionerRow,
  provisionerJson,
  TaskQueueResponse,
  type TaskQueueRow,
  taskQueueColumns,
  taskQueueJson,
  UpdateProvisionerRequest,
  UpdateWorkerTypeRequest,
  WorkerTypeResponse,
  workerTypeJson,
} from './worker-json.ts';

const DAY_MS = 24 * 3600_000;
/** How long a declared provisioner or worker type lives when the declaration names no `expires`. */
const DECLARED_LIFETIME_MS = 5 * DAY_MS;

export const PageQuery = Type.Object({
  continuationToken: Type.Optional(Type.String({ minLength: 1 })),
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
});

/** Keyset position of a list ordered by one text key. */
export const afterKey = (token: string | undefined): string | undefined =>
  decodeContinuation(token, (v): v is { after: string } => typeof v.after === 'string')?.after;

/** The page of `rows` (fetched with limit + 1) and the token of the next one, if any. */
export function page<R, K>(rows: R[], limit: number, key: (r: R) => K) {
  const items = rows.slice(0, limit);
  const next =
    rows.length > limit && items.length > 0
      ? encodeContinuation({ after: key(items[items.length - 1]) })
      : undefined;
  return { items, continuation: next ? { continuationToken: next } : {} };
}

/** A live (unexpired) task queue, or undefined. */
export async function liveTaskQueue(
  q: Queryable,
  taskQueueId: string,
  now: Date,
): Promise<TaskQueueRow | undefined> {
  const res = await q.query<TaskQueueRow>(
    `select ${taskQueueColumns} from queue_task_queues where task_queue_id = $1 and expires > $2`,
    [taskQueueId, now],
  );
  return res.rows[0];
}

/**
 * Live provisioners: those declared (or recorded when seen) in queue_provisioners, merged with
 * those implied by live task queues; alive while either is.
 */
async function provisioners(
  q: Queryable,
  now: Date,
  opts: { provisionerId?: string; after?: string; limit: number },
): Promise<ProvisionerRow[]> {
  const res = await q.query<ProvisionerRow>(
    `with implied as (
       select split_part(task_queue_id, '/', 1) as provisioner_id, max(expires) as expires,
         max(last_date_active) as last_date_active
       from queue_task_queues
       where expires > $1 and ($2::text is null or split_part(task_queue_id, '/', 1) = $2)
       group by 1
     ), declared as (
       select * from queue_provisioners where $2::text is null or provisioner_id = $2
     )
     select * from (
       select coalesce(p.provisioner_id, i.provisioner_id) as "provisionerId",
         greatest(p.expires, i.expires) as expires,
         greatest(p.last_date_active, i.last_date_active) as "lastDateActive",
         coalesce(p.description, '') as description,
         coalesce(p.stability, 'experimental') as stability,
         coalesce(p.actions, '[]'::jsonb) as actions
       from declared p full join implied i on p.provisioner_id = i.provisioner_id
     ) merged
     where expires > $1 and ($3::text is null or "provisionerId" > $3)
     order by "provisionerId"
     limit $4`,
    [now, opts.provisionerId ?? null, opts.after ?? null, opts.limit],
  );
  return res.rows;
}

const notFound = (what: string) => new ApiError('ResourceNotFound', what);

export function taskQueueEndpoints(ctx: QueueContext): EndpointDeclaration[] {
  const getProvisioner = async (provisionerId: string) => {
    const [row] = await provisioners(ctx.database, ctx.now(), { provisionerId, limit: 1 });
    if (!row) {
      throw notFound(
        `provisioner ${provisionerId} not found: no worker of it has claimed work recently and it is not declared (or it expired)`,
      );
    }
    return provisionerJson(row);
  };

  const getWorkerType = async (provisionerId: string, workerType: string) => {
    const row = await liveTaskQueue(ctx.database, `${provisionerId}/${workerType}`, ctx.now());
    if (!row) {
      throw notFound(
        `worker type ${workerType} of provisioner ${provisionerId} not found: no worker of it has claimed work recently and it is not declared (or it expired)`,
      );
    }
    return { ...workerTypeJson(row), actions: [] };
  };

  return [
    endpoint({
      name: 'listTaskQueues',
      method: 'get',
      route: '/task-queues',
      query: PageQuery,
      scopes: 'queue:list-task-queues',
      output: ListTaskQueuesResponse,
      title: 'Get a list of all active task queues',
      description:
        'The task queues workers have claimed from recently (or that were declared), ordered by taskQueueId, a page at a time.',
      stability: 'stable',
      category: 'Worker Metadata',
      handler: async ({ query }) => {
        const limit = pageSize(query.limit);
        const res = await ctx.database.query<TaskQueueRow>(
          `select ${taskQueueColumns} from queue_task_queues
           where expires > $1 and ($2::text is null or task_queue_id > $2)
           order by task_queue_id limit $3`,
          [ctx.now(), afterKey(query.continuationToken) ?? null, limit + 1],
        );
        const { items, continuation } = page(res.rows, limit, (r) => r.taskQueueId);
        return { taskQueues: items.map(taskQueueJson), ...continuation };
      },
    }),
    endpoint({
      name: 'getTaskQueue',
      method: 'get',
      route: '/task-queues/<taskQueueId>',
      params: { taskQueueId: taskQueueIdPattern },
      scopes: 'queue:get-task-queue:<taskQueueId>',
      output: TaskQueueResponse,
      title: 'Get a task queue',
      description: 'One task queue, if a worker has claimed from it recently or it was declared.',
      stability: 'stable',
      category: 'Worker Metadata',
      handler: async ({ params }) => {
        const row = await liveTaskQueue(ctx.database, params.taskQueueId, ctx.now());
        if (!row) {
          throw notFound(
            `task queue ${params.taskQueueId} not found: no worker has claimed from it recently and it is not declared (or it expired)`,
          );
        }
        return taskQueueJson(row);
      },
    }),
    endpoint({
      name: 'listProvisioners',
      method: 'get',
      route: '/provisioners',
      query: PageQuery,
      scopes: 'queue:list-provisioners',
      output: ListProvisionersResponse,
      title: 'Get a list of all active provisioners',
      description:
        'The provisioners (the part of a taskQueueId before the `/`) of live task queues, and the declared ones, a page at a time.',
      stability: 'deprecated',
      category: 'Worker Metadata',
      handler: async ({ query }) => {
        const limit = pageSize(query.limit);
        const rows = await provisioners(ctx.database, ctx.now(), {
          after: afterKey(query.continuationToken),
          limit: limit + 1,
        });
        const { items, continuation } = page(rows, limit, (r) => r.provisionerId);
        return { provisioners: items.map(provisionerJson), ...continuation };
      },
    }),
    endpoint({
      name: 'getProvisioner',
      method: 'get',
      route: '/provisioners/<provisionerId>',
      params: { provisionerId: identifierPattern },
      scopes: 'queue:get-provisioner:<provisionerId>',
      output: ProvisionerResponse,
      title: 'Get an active provisioner',
      description: 'One provisioner, if any of its task queues is live or it was declared.',
      stability: 'deprecated',
      category: 'Worker Metadata',
      handler: async ({ params }) => getProvisioner(params.provisionerId),
    }),
    endpoint({
      name: 'declareProvisioner',
      method: 'put',
      route: '/provisioners/<provisionerId>',
      params: { provisionerId: identifierPattern },
      scopes: {
        AllOf: [
          {
            each: 'queue:declare-provisioner:<provisionerId>#<property>',
            for: 'property',
            in: 'properties',
          },
        ],
      },
      input: UpdateProvisionerRequest,
      output: ProvisionerResponse,
      title: 'Update a provisioner',
      description:
        'Creates or updates a provisioner: each property given needs its own scope (`queue:declare-provisioner:<provisionerId>#<property>`). ' +
        'Without `expires`, it lives at least 5 more days. A body with no properties changes nothing.',
      stability: 'deprecated',
      category: 'Worker Metadata',
      handler: async ({ params, body, authorize }) => {
        authorize({ properties: Object.keys(body) });
        if (Object.keys(body).length > 0) {
          const now = ctx.now();
          await ctx.database.query(
            `insert into queue_provisioners
               (provisioner_id, expires, last_date_active, description, stability, actions)
             values ($1, coalesce($2::timestamptz, $3::timestamptz), $4, coalesce($5::text, ''),
               coalesce($6::text, 'experimental'), coalesce($7::jsonb, '[]'::jsonb))
             on conflict (provisioner_id) do update set
               expires = coalesce($2::timestamptz, greatest(queue_provisioners.expires, $3::timestamptz)),
               last_date_active = $4,
               description = coalesce($5::text, queue_provisioners.description),
               stability = coalesce($6::text, queue_provisioners.stability),
               actions = coalesce($7::jsonb, queue_provisioners.actions)`,
            [
              params.provisionerId,
              body.expires ? new Date(body.expires) : null,
              new Date(now.getTime() + DECLARED_LIFETIME_MS),
              now,
              body.description ?? null,
              body.stability ?? null,
              body.actions ? JSON.stringify(body.actions) : null,
            ],
          );
        }
        return getProvisioner(params.provisionerId);
      },
    }),
    endpoint({
      name: 'listWorkerTypes',
      method: 'get',
      route: '/provisioners/<provisionerId>/worker-types',
      params: { provisionerId: identifierPattern },
      query: PageQuery,
      scopes: 'queue:list-worker-types:<provisionerId>',
      output: ListWorkerTypesResponse,
      title: 'Get a list of all active worker-types',
      description:
        'The live task queues of a provisioner, as worker types, a page at a time (empty for an unknown provisioner).',
      stability: 'deprecated',
      category: 'Worker Metadata',
      handler: async ({ params, query }) => {
        const limit = pageSize(query.limit);
        const res = await ctx.database.query<TaskQueueRow>(
          `select ${taskQueueColumns} from queue_task_queues
           where split_part(task_queue_id, '/', 1) = $1 and expires > $2
             and ($3::text is null or task_queue_id > $3)
           order by task_queue_id limit $4`,
          [params.provisionerId, ctx.now(), afterKey(query.continuationToken) ?? null, limit + 1],
        );
        const { items, continuation } = page(res.rows, limit, (r) => r.taskQueueId);
        return { workerTypes: items.map(workerTypeJson), ...continuation };
      },
    }),
    endpoint({
      name: 'getWorkerType',
      method: 'get',
      route: '/provisioners/<provisionerId>/worker-types/<workerType>',
      params: { provisionerId: identifierPattern, workerType: identifierPattern },
      scopes: 'queue:get-worker-type:<provisionerId>/<workerType>',
      output: WorkerTypeResponse,
      title: 'Get a worker-type',
      description: 'One worker type: the task queue `<provisionerId>/<workerType>`, if live.',
      stability: 'deprecated',
      category: 'Worker Metadata',
      handler: async ({ params }) => getWorkerType(params.provisionerId, params.workerType),
    }),
    endpoint({
      name: 'declareWorkerType',
      method: 'put',
      route: '/provisioners/<provisionerId>/worker-types/<workerType>',
      params: { provisionerId: identifierPattern, workerType: workerTypePattern },
      scopes: {
        AllOf: [
          {
            each: 'queue:declare-worker-type:<provisionerId>/<workerType>#<property>',
            for: 'property',
            in: 'properties',
          },
        ],
      },
      input: UpdateWorkerTypeRequest,
      output: WorkerTypeResponse,
      title: 'Update a worker-type',
      description:
        'Creates or updates the task queue `<provisionerId>/<workerType>`: each property given needs its own scope ' +
        '(`queue:declare-worker-type:<provisionerId>/<workerType>#<property>`). Without `expires`, it lives at least 5 more days. ' +
        'A body with no properties changes nothing.',
      stability: 'deprecated',
      category: 'Worker Metadata',
      handler: async ({ params, body, authorize }) => {
        authorize({ properties: Object.keys(body) });
        if (Object.keys(body).length > 0) {
          const now = ctx.now();
          await ctx.database.query(
            `insert into queue_task_queues (task_queue_id, expires, last_date_active, description, stability)
             values ($1, coalesce($2::timestamptz, $3::timestamptz), $4, coalesce($5::text, ''),
               coalesce($6::text, 'experimental'))
             on conflict (task_queue_id) do update set
               expires = coalesce($2::timestamptz, greatest(queue_task_queues.expires, $3::timestamptz)),
               last_date_active = $4,
               description = coalesce($5::text, queue_task_queues.description),
               stability = coalesce($6::text, queue_task_queues.stability)`,
            [
              `${params.provisionerId}/${params.workerType}`,
              body.expires ? new Date(body.expires) : null,
              new Date(now.getTime() + DECLARED_LIFETIME_MS),
              now,
              body.description ?? null,
              body.stability ?? null,
            ],
          );
        }
        return getWorkerType(params.provisionerId, params.workerType);
      },
    }),
  ];
}
