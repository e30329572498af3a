import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { isResolvedState, taskState } from './task-record.ts';
import { resolveUnresolved } from './transitions.ts';

/** Tasks handled per transaction. */
const BATCH = 100;

/**
 * One pass of deadline handling: every unresolved task past its deadline (unscheduled, pending or
 * running) is resolved as exception/deadline-exceeded, which drives its dependents and its group
 * like any resolution. SKIP LOCKED and a re-check under the lock make it safe in several
 * processes at once. Returns how many tasks were resolved.
 */
export async function resolveDeadlines(ctx: QueueContext): Promise<number> {
  let total = 0;
  for (;;) {
    const { seen, resolved } = await ctx.database.transaction(async (tx) => {
      const now = ctx.now();
      const due = await tx.query<{ taskId: string }>(
        `select task_id as "taskId" from queue_tasks
         where not resolved and deadline < $1
         order by deadline
         limit $2
         for update skip locked`,
        [now, BATCH],
      );
      let resolved = 0;
      for (const { taskId } of due.rows) {
        const task = await db.getTask(tx, taskId);
        if (!task || task.resolved) continue;
        if (await resolveUnresolved(tx, task, 'deadline-exceeded', now)) {
          resolved++;
        } else if (isResolvedState(taskState(task))) {
          // Resolved without the flag set: set it, or this row would be picked up forever.
          task.resolved = true;
          await db.saveTaskState(tx, task);
        }
      }
      return { seen: due.rows.length, resolved };
    });
    total += resolved;
    if (seen < BATCH) return total;
  }
}
