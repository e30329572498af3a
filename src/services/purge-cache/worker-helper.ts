/**
 * What a worker does with `purgeRequests`: decide which of its caches to throw away. Pure, so
 * a worker can call it with the answer it fetched and the caches it has on disk.
 */

/** One entry of a `purgeRequests` (or `allPurgeRequests`) answer. */
export interface PurgeRequest {
  provisionerId: string;
  workerType: string;
  cacheName: string;
  /** ISO date-time: caches of this name created before it must be purged. */
  before: string;
}

/** The `purgeRequests` answer. */
export interface PurgeRequestList {
  requests: PurgeRequest[];
}

/**
 * The names of the caches to purge: those created before the latest `before` among the requests
 * naming them. A cache created at exactly `before` is kept; requests with an unreadable `before`
 * are ignored. Names come out in the order of `caches`.
 */
export function cachesToPurge(
  requests: readonly Pick<PurgeRequest, 'cacheName' | 'before'>[],
  caches: ReadonlyMap<string, Date>,
): string[] {
  const latest = new Map<string, number>();
  for (const { cacheName, before } of requests) {
    const at = Date.parse(before);
    if (Number.isNaN(at)) continue;
    const seen = latest.get(cacheName);
    if (seen === undefined || at > seen) latest.set(cacheName, at);
  }
  const purge: string[] = [];
  for (const [name, createdAt] of caches) {
    const before = latest.get(name);
    if (before !== undefined && createdAt.getTime() < before) purge.push(name);
  }
  return purge;
}
