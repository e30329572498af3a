/** What a batch write says about one of its items. */
export type Outcome<O> = { value: O } | { error: unknown };

export interface BatcherOptions {
  /** The most items written together. */
  maxBatch: number;
  /**
   * The most batches being written at once. Above one, a batch does not wait for the one before
   * it to commit: on a busy process each round trip of a transaction also waits its turn on the
   * event loop, so one batch at a time caps throughput at (batch size ÷ that latency).
   */
  concurrency: number;
  /** Called when nothing waits and nothing is being written (to drop an idle batcher). */
  onIdle?: () => void;
}

/**
 * Writes items in batches: `submit` queues an item, and the items that arrive while every write
 * slot is busy are written together by the next free slot, by one call of `write` (say, one
 * transaction). When a slot is free an item is written at once, so a quiet system gets no added
 * latency, and a busy one gets bigger batches. Each item gets its own outcome; when `write`
 * throws, every item of that batch fails with its error.
 */
export class Batcher<I, O> {
  private readonly waiting: Array<{ item: I; resolve(o: O): void; reject(e: unknown): void }> = [];
  private inFlight = 0;

  constructor(
    private readonly write: (items: I[]) => Promise<Array<Outcome<O>>>,
    private readonly opts: BatcherOptions,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.pump();
    });
  }

  /** Nothing waiting and nothing being written. */
  get idle(): boolean {
    return this.waiting.length === 0 && this.inFlight === 0;
  }

  private pump(): void {
    while (this.inFlight < this.opts.concurrency && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.opts.maxBatch);
      this.inFlight++;
      void this.run(batch);
    }
  }

  private async run(batch: typeof this.waiting): Promise<void> {
    let outcomes: Array<Outcome<O>>;
    try {
      outcomes = await this.write(batch.map((b) => b.item));
    } catch (err) {
      outcomes = batch.map(() => ({ error: err }));
    }
    batch.forEach((b, i) => {
      const outcome = outcomes[i];
      if (outcome && 'value' in outcome) b.resolve(outcome.value);
      else b.reject(outcome ? outcome.error : new Error('batch write gave no outcome for this item'));
    });
    this.inFlight--;
    this.pump();
    if (this.idle) this.opts.onIdle?.();
  }
}
