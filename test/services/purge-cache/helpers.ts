import taskcluster from 'taskcluster-client';
import type { Credentials } from '../../helpers/clients.ts';
import type { TestTaskyard } from '../../helpers/taskyard.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

/** An official-client PurgeCache object for this Taskyard (no retries): root's, or null for none. */
export function purgeCacheClient(
  ty: TestTaskyard,
  credentials: Credentials | null = ty.root,
  extra: Record<string, unknown> = {},
): Untyped {
  return new taskcluster.PurgeCache({
    rootUrl: ty.rootUrl,
    ...(credentials ? { credentials } : {}),
    retries: 0,
    ...extra,
  });
}

/** Every stored purge request, straight from the database. */
export async function storedRequests(
  ty: TestTaskyard,
): Promise<Array<{ workerPoolId: string; cacheName: string; before: Date; expires: Date }>> {
  const res = await ty.testDb.db.query(
    `select worker_pool_id as "workerPoolId", cache_name as "cacheName", before, expires
     from purge_cache_requests order by worker_pool_id, cache_name`,
  );
  return res.rows;
}
