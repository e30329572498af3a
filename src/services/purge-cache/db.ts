import type { Queryable } from '../../platform/db/index.ts';

export interface PurgeRequestRow {
  workerPoolId: string;
  cacheName: string;
  before: Date;
}

const COLUMNS = 'worker_pool_id as "workerPoolId", cache_name as "cacheName", before';

/**
 * Records a purge request, or moves an existing one's `before` and `expires` forward (never
 * back, so a process with a slow clock cannot undo a later request).
 */
export async function upsertPurgeRequest(
  db: Queryable,
  workerPoolId: string,
  cacheName: string,
  before: Date,
  expires: Date,
): Promise<void> {
  await db.query(
    `insert into purge_cache_requests (worker_pool_id, cache_name, before, expires)
     values ($1, $2, $3, $4)
     on conflict (worker_pool_id, cache_name) do update
       set before = greatest(purge_cache_requests.before, excluded.before),
           expires = greatest(purge_cache_requests.expires, excluded.expires)`,
    [workerPoolId, cacheName, before, expires],
  );
}

/** The purge requests of one worker pool, oldest first. */
export async function purgeRequestsOf(db: Queryable, workerPoolId: string): Promise<PurgeRequestRow[]> {
  const res = await db.query<PurgeRequestRow>(
    `select ${COLUMNS} from purge_cache_requests where worker_pool_id = $1 order by before, cache_name`,
    [workerPoolId],
  );
  return res.rows;
}

/** A page of every purge request, by worker pool then cache name, starting after `after`. */
export async function allPurgeRequests(
  db: Queryable,
  after: { workerPoolId: string; cacheName: string } | undefined,
  limit: number,
): Promise<PurgeRequestRow[]> {
  const res = await db.query<PurgeRequestRow>(
    `select ${COLUMNS} from purge_cache_requests
     where $1::text is null or (worker_pool_id, cache_name) > ($1::text, $2::text)
     order by worker_pool_id, cache_name limit $3`,
    [after?.workerPoolId ?? null, after?.cacheName ?? null, limit],
  );
  return res.rows;
}

/** Deletes the purge requests whose `expires` is before `cutoff`; returns how many went. */
export async function deleteExpiredPurgeRequests(db: Queryable, cutoff: Date): Promise<number> {
  const res = await db.query('delete from purge_cache_requests where expires < $1', [cutoff]);
  return res.rowCount ?? 0;
}
