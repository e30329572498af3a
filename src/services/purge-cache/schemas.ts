import { Type } from '@sinclair/typebox';

/** `<provisionerId>/<workerType>`, each an identifier of 1 to 38 characters. */
export const workerPoolIdPattern = /^[A-Za-z0-9_-]{1,38}\/[A-Za-z0-9_-]{1,38}$/;

const Identifier = (description: string) =>
  Type.String({ minLength: 1, maxLength: 38, pattern: '^([a-zA-Z0-9-_]*)$', description });

export const PurgeCacheRequest = Type.Object(
  {
    cacheName: Type.String({
      description:
        'Name of the cache to purge; a worker pool with several kinds of cache purges every cache of this name.',
    }),
  },
  {
    $id: 'purge-cache-request',
    title: 'Purge Cache Request',
    description: 'Asks workers of a pool to purge a cache.',
    additionalProperties: false,
  },
);

const PurgeRequestEntry = Type.Object(
  {
    provisionerId: Identifier('The provisionerId part of the worker pool.'),
    workerType: Identifier('The workerType part of the worker pool.'),
    cacheName: Type.String({ description: 'Name of the cache to purge.' }),
    before: Type.String({
      format: 'date-time',
      description: 'Caches of this name on this worker pool created before this time must be purged.',
    }),
  },
  { additionalProperties: false },
);

const PurgeRequests = Type.Array(PurgeRequestEntry, {
  description: 'Purge requests the service holds.',
});

export const PurgeCacheRequestList = Type.Object(
  { requests: PurgeRequests },
  {
    $id: 'purge-cache-request-list',
    title: 'Open Purge Request List',
    description: 'The open purge requests of a worker pool.',
    additionalProperties: false,
  },
);

export const AllPurgeCacheRequestList = Type.Object(
  {
    continuationToken: Type.Optional(
      Type.String({ description: 'Pass it back to get the next page; absent on the last page.' }),
    ),
    requests: PurgeRequests,
  },
  {
    $id: 'all-purge-cache-request-list',
    title: 'Open All Purge Requests List',
    description: 'Every open purge request, a page at a time. Not meant for workers.',
    additionalProperties: false,
  },
);
