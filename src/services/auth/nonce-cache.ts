/**
 * Remembers Hawk nonces so a captured request cannot be replayed while its timestamp is still
 * inside the allowed skew. Buckets by timestamp minute, so expiry is dropping whole buckets.
 * Memory is bounded: past `maxEntries` the oldest bucket goes first (the replay window then
 * shrinks under extreme load rather than the process running out of memory). Nonces live in one
 * process: a replay sent to another `serve` process is not caught (documented limitation).
 */
export class NonceCache {
  private readonly buckets = new Map<number, Set<string>>();
  private size = 0;

  constructor(
    private readonly windowSec: number,
    private readonly maxEntries = 2_000_000,
  ) {}

  /** Records the nonce; returns false when it was already seen (a replay). */
  check(id: string, nonce: string, ts: number, nowSec: number): boolean {
    this.expire(nowSec);
    const minute = Math.floor(ts / 60);
    let bucket = this.buckets.get(minute);
    const key = `${id}\n${nonce}\n${ts}`;
    if (bucket?.has(key)) return false;
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(minute, bucket);
    }
    bucket.add(key);
    this.size++;
    while (this.size > this.maxEntries) this.dropOldest();
    return true;
  }

  private expire(nowSec: number): void {
    const oldest = Math.floor((nowSec - this.windowSec) / 60) - 1;
    for (const [minute, bucket] of this.buckets) {
      if (minute < oldest) {
        this.size -= bucket.size;
        this.buckets.delete(minute);
      }
    }
  }

  private dropOldest(): void {
    const oldest = Math.min(...this.buckets.keys());
    this.size -= this.buckets.get(oldest)?.size ?? 0;
    this.buckets.delete(oldest);
  }
}
