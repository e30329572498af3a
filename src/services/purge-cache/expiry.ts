import type { Queryable } from '../../platform/db/index.ts';
import { deleteExpiredPurgeRequests } from './db.ts';

/** Requests are deleted this long after their `expires`, so a clock a little behind loses none. */
export const EXPIRY_GRACE_MS = 3600_000;
/** How often the background loop expires purge requests. */
export const EXPIRY_INTERVAL_MS = 3600_000;

/**
 * One expiry pass: deletes the purge requests that expired more than an hour before `now`
 * (a request lives a day after its latest `purgeCache`). Returns how many went.
 */
export async function expirePurgeRequests(db: Queryable, now: Date): Promise<number> {
  return deleteExpiredPurgeRequests(db, new Date(now.getTime() - EXPIRY_GRACE_MS));
}
