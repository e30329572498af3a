import { Type } from '@sinclair/typebox';
import { decodeContinuation, encodeContinuation, pageSize } from '../../platform/api/pagination.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import type { Database } from '../../platform/db/index.ts';
import { ApiError } from '../../platform/errors.ts';
import * as db from './db.ts';
import type { PoolCache } from './pool-cache.ts';
import {
  AllPurgeCacheRequestList,
  PurgeCacheRequest,
  PurgeCacheRequestList,
  workerPoolIdPattern,
} from './schemas.ts';

/** A purge request is kept this long after its latest `purgeCache` (then expired, see expiry.ts). */
export const PURGE_REQUEST_LIFETIME_MS = 24 * 3600_000;

export interface PurgeCacheContext {
  database: Database;
  now: () => Date;
  poolCache: PoolCache;
}

const params = { workerPoolId: workerPoolIdPattern };
const CATEGORY = 'Purge-Cache Service';

/** The response form of a stored request: the pool split into its two historical halves. */
export function requestJson(row: db.PurgeRequestRow) {
  const slash = row.workerPoolId.indexOf('/');
  return {
    provisionerId: row.workerPoolId.slice(0, slash),
    workerType: row.workerPoolId.slice(slash + 1),
    cacheName: row.cacheName,
    before: row.before.toJSON(),
  };
}

/** `since` as Taskcluster takes it: anything `Date.parse` reads; absent means the epoch. */
function parseSince(since: string | undefined): Date {
  if (since === undefined) return new Date(0);
  const ms = Date.parse(since);
  if (Number.isNaN(ms)) {
    throw new ApiError(
      'InputError',
      `since ${JSON.stringify(since)} is not a valid date: give a date-time such as 2024-01-31T12:00:00.000Z`,
    );
  }
  return new Date(ms);
}

const isPosition = (v: Record<string, unknown>): v is { workerPoolId: string; cacheName: string } =>
  typeof v.workerPoolId === 'string' && typeof v.cacheName === 'string';

export function purgeCacheEndpoints(ctx: PurgeCacheContext): EndpointDeclaration[] {
  return [
    endpoint({
      name: 'purgeCache',
      method: 'post',
      route: '/purge-cache/<workerPoolId>',
      params,
      scopes: 'purge-cache:<workerPoolId>:<cacheName>',
      input: PurgeCacheRequest,
      title: 'Purge Worker Cache',
      description: [
        'Asks the workers of `workerPoolId` to purge their caches named `cacheName`: caches created',
        'before now are to be discarded.',
        '',
        "Asking again for the same cache moves the request's `before` time to now.",
      ].join('\n'),
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params, body, authorize }) => {
        authorize({ cacheName: body.cacheName });
        const now = ctx.now();
        await db.upsertPurgeRequest(
          ctx.database,
          params.workerPoolId,
          body.cacheName,
          now,
          new Date(now.getTime() + PURGE_REQUEST_LIFETIME_MS),
        );
        ctx.poolCache.invalidate(params.workerPoolId);
        return undefined;
      },
    }),
    endpoint({
      name: 'allPurgeRequests',
      method: 'get',
      route: '/purge-cache/list',
      query: Type.Object({
        continuationToken: Type.Optional(Type.String()),
        limit: Type.Optional(Type.Integer({ minimum: 0 })),
      }),
      scopes: 'purge-cache:all-purge-requests',
      output: AllPurgeCacheRequestList,
      title: 'All Open Purge Requests',
      description: [
        'Every open purge request, of every worker pool, a page at a time.',
        '',
        'Meant for administrators; workers should ask `purgeRequests` for their own pool.',
      ].join('\n'),
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ query }) => {
        const after = decodeContinuation(query.continuationToken, isPosition);
        const limit = pageSize(query.limit);
        const rows = await db.allPurgeRequests(ctx.database, after, limit + 1);
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        return {
          requests: page.map(requestJson),
          ...(rows.length > limit && last
            ? {
                continuationToken: encodeContinuation({
                  workerPoolId: last.workerPoolId,
                  cacheName: last.cacheName,
                }),
              }
            : {}),
        };
      },
    }),
    endpoint({
      name: 'purgeRequests',
      method: 'get',
      route: '/purge-cache/<workerPoolId>',
      params,
      query: Type.Object({ since: Type.Optional(Type.String()) }),
      scopes: 'purge-cache:purge-requests::<workerPoolId>',
      output: PurgeCacheRequestList,
      title: 'Open Purge Requests for a worker pool',
      description: [
        'The purge requests of `workerPoolId` whose `before` is at or after `since` (all of them',
        'without it): a worker purges each cache of that name it created before `before`.',
        '',
        'Workers call this before each task. Answers may be up to 10 seconds old for purges made',
        'through another process.',
      ].join('\n'),
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params, query }) => {
        const since = parseSince(query.since).getTime();
        const rows = await ctx.poolCache.get(params.workerPoolId, () =>
          db.purgeRequestsOf(ctx.database, params.workerPoolId),
        );
        return { requests: rows.filter((r) => r.before.getTime() >= since).map(requestJson) };
      },
    }),
  ];
}
