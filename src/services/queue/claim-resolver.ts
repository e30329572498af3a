import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { resolveRun } from './transitions.ts';

/** Tasks handled per transaction. */
const BATCH = 100;

/**
 * One pass of claim expiry: every running run whose takenUntil has passed (and whose task is not
 * yet past its deadline: the deadline loop resolves those) becomes exception/claim-expired, and
 * is retried while the task has retries left. Rows are taken with SKIP LOCKED and re-checked
 * under the lock, so any number of processes may run this at once and a run is expired exactly
 * once (a reclaim that committed first wins). Returns how many runs were expired.
 */
export async function expireClaims(ctx: QueueContext): Promise<number> {
  let total = 0;
  for (;;) {
    const { seen, expired } = await ctx.database.transaction(async (tx) => {
      const now = ctx.now();
      const due = await tx.query<{ taskId: string }>(
        `select task_id as "taskId" from queue_tasks
         where taken_until < $1 and deadline > $1
         order by taken_until
         limit $2
         for update skip locked`,
        [now, BATCH],
      );
      let expired = 0;
      for (const { taskId } of due.rows) {
        const task = await db.getTask(tx, taskId);
        if (!task?.takenUntil) continue;
        const run = task.runs[task.runs.length - 1];
        if (
          run?.state === 'running' &&
          run.takenUntil !== undefined &&
          new Date(run.takenUntil).getTime() === task.takenUntil.getTime()
        ) {
          await resolveRun(tx, task, run.runId, 'exception', 'claim-expired', now);
          expired++;
        } else {
          // Nothing runs under this takenUntil any more: drop it from the index.
          task.takenUntil = null;
          await db.saveTaskState(tx, task);
        }
      }
      return { seen: due.rows.length, expired };
    });
    total += expired;
    if (seen < BATCH) return total;
  }
}
