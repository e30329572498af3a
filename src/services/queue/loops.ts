import type { Logger } from 'pino';
import { deleteArtifactBlobs } from './artifacts-db.ts';
import { BUILT_IN_QUEUES, runBuiltInWorkers } from './built-in-workers.ts';
import { expireClaims } from './claim-resolver.ts';
import type { QueueContext } from './context.ts';
import { resolveDeadlines } from './deadline-resolver.ts';
import { expireQueueData } from './expiry.ts';
import { workClaimerFor } from './work-claimer.ts';

export { runBuiltInWorkers } from './built-in-workers.ts';
export { expireClaims } from './claim-resolver.ts';
export { resolveDeadlines } from './deadline-resolver.ts';

/**
 * A background pass run on a timer and on demand (`wake`), never twice at once in this process.
 * Passes that find work are repeated at once; failures are logged and retried on the next tick.
 */
class Loop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly pass: () => Promise<number>,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.intervalMs);
    this.timer.unref();
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
    });
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      try {
        while (!this.stopped && (await this.pass()) > 0) {
          // found work: look again before sleeping
        }
      } catch (err) {
        this.logger.error({ err, loop: this.name }, 'queue loop failed; retrying on its next tick');
        return;
      }
    } while (this.again && !this.stopped);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}

/** Expired data is deleted this often (it only has to go eventually). */
const EXPIRY_INTERVAL_MS = 10 * 60 * 1000;

/** One pass of expiry (tasks, groups, edges, artifacts, workers, task queues): how many rows went. */
async function expireData(ctx: QueueContext): Promise<number> {
  const store = ctx.blobStore;
  const counts = await expireQueueData(
    ctx.database,
    ctx.now(),
    store ? (rows) => deleteArtifactBlobs(store, rows) : undefined,
  );
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * The queue's background loops other than dependency resolution: claim expiry, deadlines, the
 * built-in workers and the expiry of old data. Each is safe to run in several processes at once
 * (row locks with SKIP LOCKED, re-checked under the lock). The built-in workers are woken by the
 * pending-work notification of their task queues. Returns a function that stops them (and this
 * process's claimWork listener).
 */
export async function startQueueLoops(ctx: QueueContext): Promise<() => Promise<void>> {
  const claimer = workClaimerFor(ctx);
  const loops = [
    new Loop('claim-expiry', () => expireClaims(ctx), 1000, ctx.logger),
    new Loop('deadlines', () => resolveDeadlines(ctx), 1000, ctx.logger),
    new Loop('expiry', () => expireData(ctx), EXPIRY_INTERVAL_MS, ctx.logger),
  ];
  const builtIn = new Loop('built-in-workers', () => runBuiltInWorkers(ctx), 5000, ctx.logger);
  loops.push(builtIn);
  const unsubscribe = BUILT_IN_QUEUES.map((q) => claimer.subscribe(q.taskQueueId, () => builtIn.wake()));
  await claimer.listen();
  for (const loop of loops) loop.start();
  return async () => {
    for (const u of unsubscribe) u();
    await Promise.all(loops.map((l) => l.stop()));
    await claimer.stop();
  };
}
