import type { QueueContext } from './context.ts';
import { resolveRun } from './transitions.ts';
import { CLAIM_SETTINGS, claimPending, takenUntilFrom } from './work-claimer.ts';
import { recordWorkerSeen } from './worker-info.ts';

/** The task queues the queue resolves by itself, and how. */
export const BUILT_IN_QUEUES = [
  { taskQueueId: 'built-in/succeed', workerId: 'succeed', outcome: 'completed' },
  { taskQueueId: 'built-in/fail', workerId: 'fail', outcome: 'failed' },
] as const;
const WORKER_GROUP = 'built-in';
/** Runs claimed and resolved per transaction. */
const BATCH = 32;

/**
 * One pass of the built-in workers: every pending run in `built-in/succeed` is claimed (as
 * built-in/succeed) and reported completed, every one in `built-in/fail` (as built-in/fail)
 * reported failed; a task with a non-empty payload is reported exception/malformed-payload
 * instead. The claim and the report share a transaction, so a crash leaves the run pending, not
 * running. Returns how many runs were resolved.
 */
export async function runBuiltInWorkers(ctx: QueueContext): Promise<number> {
  let total = 0;
  for (const q of BUILT_IN_QUEUES) {
    const worker = { workerGroup: WORKER_GROUP, workerId: q.workerId };
    for (;;) {
      const done = await ctx.database.transaction(
        async (tx) => {
          const now = ctx.now();
          const claimed = await claimPending(tx, q.taskQueueId, worker, BATCH, takenUntilFrom(ctx, now), now);
          for (const { task, runId } of claimed) {
            if (Object.keys(task.payload).length > 0) {
              await resolveRun(tx, task, runId, 'exception', 'malformed-payload', now);
            } else {
              await resolveRun(tx, task, runId, q.outcome, q.outcome, now);
            }
          }
          return claimed;
        },
        { settings: CLAIM_SETTINGS },
      );
      if (done.length > 0) {
        await recordWorkerSeen(
          ctx.database,
          { taskQueueId: q.taskQueueId, ...worker },
          ctx.now(),
          done.map((c) => ({ taskId: c.task.taskId, runId: c.runId })),
        ).catch((err) => ctx.logger.warn({ err }, 'cannot record that a built-in worker was seen'));
      }
      total += done.length;
      if (done.length < BATCH) break;
    }
  }
  return total;
}
