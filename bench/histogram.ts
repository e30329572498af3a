/**
 * A latency histogram with logarithmic buckets (2% wide), so that load generators in separate
 * processes can send a fixed-size array to the parent and the parent can add them up: keeping
 * every latency would cost memory proportional to the request count, and percentiles of
 * per-process percentiles would be wrong.
 */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** 1.02^1000 µs is about 110 hours: far beyond any request the benchmark waits for. */
export const BUCKETS = 1000;

export function newHistogram(): number[] {
  return new Array<number>(BUCKETS).fill(0);
}

export function record(hist: number[], micros: number): void {
  const b = micros <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(micros) / LOG_GROWTH));
  hist[b]++;
}

export function mergeInto(target: number[], source: readonly number[]): void {
  for (let i = 0; i < BUCKETS; i++) target[i] += source[i] ?? 0;
}

export function count(hist: readonly number[]): number {
  let n = 0;
  for (const c of hist) n += c;
  return n;
}

/** The latency (µs) below which fraction `q` of the recorded ones fall: a bucket's upper bound. */
export function quantile(hist: readonly number[], q: number): number {
  const total = count(hist);
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let b = 0; b < BUCKETS; b++) {
    seen += hist[b];
    if (seen >= rank) return GROWTH ** b;
  }
  return GROWTH ** (BUCKETS - 1);
}
