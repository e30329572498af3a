/** Scheduled fires: each due hook fires once per scheduled time with its precomputed taskId. */
import slugid from 'slugid';
import { nextDate } from './api.ts';
import * as db from './db.ts';
import { fireHook, type HooksContext } from './fire.ts';

/** Fires every due hook once (rows locked, SKIP LOCKED, so concurrent passes share the work). */
export async function runSchedulerPass(ctx: HooksContext): Promise<number> {
  let fired = 0;
  for (;;) {
    const n = await ctx.database.transaction(async (tx) => {
      const due = await db.dueHooks(tx, ctx.now(), 10);
      for (const hook of due) {
        const at = hook.nextScheduledDate!;
        // The taskId is fixed per scheduled time and `now` is that time, so a retry after a
        // crash renders the same task and the queue's createTask is idempotent.
        await fireHook(ctx, hook, 'schedule', {}, { taskId: hook.nextTaskId, now: at });
        const next = nextDate(hook.schedule, ctx.now());
        await db.setNextScheduled(tx, hook.hookGroupId, hook.hookId, next, slugid.nice());
      }
      return due.length;
    });
    fired += n;
    if (n < 10) return fired;
  }
}

export function startScheduler(ctx: HooksContext, intervalMs = 1000): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running
      .then(() => runSchedulerPass(ctx))
      .catch((err) => ctx.logger.error({ err }, 'hooks scheduler pass failed'));
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
