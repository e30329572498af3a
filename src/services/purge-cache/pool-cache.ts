import type { PurgeRequestRow } from './db.ts';

/** How long one process reuses a worker pool's purge requests before reading them again. */
export const POOL_CACHE_TTL_MS = 10_000;
/** Beyond this many pools the cache is emptied rather than grown. */
const MAX_POOLS = 10_000;

interface Entry {
  rows: PurgeRequestRow[];
  fetchedAt: number;
}

/**
 * Each worker pool's purge requests, kept for a few seconds: workers ask before every task, and
 * the answer rarely changes. A purge made through this process is seen at once (its pool is
 * dropped); one made through another process within `ttlMs`.
 */
export class PoolCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every `invalidate`, so a read that raced a purge is not cached. */
  private generation = 0;

  constructor(
    private readonly now: () => Date,
    private readonly ttlMs = POOL_CACHE_TTL_MS,
  ) {}

  async get(workerPoolId: string, load: () => Promise<PurgeRequestRow[]>): Promise<PurgeRequestRow[]> {
    const hit = this.entries.get(workerPoolId);
    const now = this.now().getTime();
    if (hit && now - hit.fetchedAt < this.ttlMs && now >= hit.fetchedAt) return hit.rows;
    const generation = this.generation;
    const rows = await load();
    if (this.generation === generation) {
      if (this.entries.size >= MAX_POOLS) this.entries.clear();
      this.entries.set(workerPoolId, { rows, fetchedAt: now });
    }
    return rows;
  }

  invalidate(workerPoolId: string): void {
    this.entries.delete(workerPoolId);
    this.generation++;
  }

  clear(): void {
    this.entries.clear();
  }
}
