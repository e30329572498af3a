/**
 * Scheduled fires. Each due hook fires once per scheduled time, with the taskId fixed when that
 * time was scheduled and `now` set to it, so a retry renders the same task and the queue's
 * idempotent createTask makes it one task. After a fire (or after any number of slots missed while
 * no scheduler ran) the next time is the first slot after the current time: missed slots fire
 * once, together, as upstream does.
 */
import slugid from 'slugid';
import { nextDate } from './cron.ts';
import * as db from './db.ts';
import { fireHook, type HooksContext } from './fire.ts';

/** How often each process looks for due hooks. */
export const SCHEDULER_INTERVAL_MS = 1000;
const BATCH = 10;

/**
 * Fires every due hook once; returns how many fired. Rows are locked (SKIP LOCKED) for the fire,
 * so passes in several processes share the work and never fire one slot twice. A createTask that
 * fails for good (template error, 4xx) is recorded in last fires and the schedule moves on; one
 * that may pass (queue unreachable, 5xx) is retried on later passes until the hook's next slot is
 * due, then recorded as failed.
 */
export async function runSchedulerPass(ctx: HooksContext): Promise<number> {
  let fired = 0;
  const deferred = new Set<string>();
  for (;;) {
    const { handled, more } = await ctx.database.transaction(async (tx) => {
      const due = (await db.dueHooks(tx, ctx.now(), BATCH + deferred.size)).filter(
        (h) => !deferred.has(`${h.hookGroupId}/${h.hookId}`),
      );
      let handled = 0;
      for (const hook of due.slice(0, BATCH)) {
        const at = hook.nextScheduledDate!;
        const now = ctx.now();
        const next = nextDate(hook.schedule, now);
        // Retrying is worth it while this slot is the latest one due.
        const canRetry = next !== null && nextDate(hook.schedule, at)!.getTime() > now.getTime();
        const result = await fireHook(
          ctx,
          hook,
          'schedule',
          {},
          {
            taskId: hook.nextTaskId,
            now: at,
            q: tx,
            deferTransient: canRetry,
          },
        );
        if (result.deferred) {
          deferred.add(`${hook.hookGroupId}/${hook.hookId}`);
          continue;
        }
        await db.setNextScheduled(tx, hook.hookGroupId, hook.hookId, next, slugid.nice());
        handled++;
      }
      return { handled, more: due.length > BATCH };
    });
    fired += handled;
    if (!more) return fired;
  }
}

export function startScheduler(ctx: HooksContext, intervalMs = SCHEDULER_INTERVAL_MS): () => Promise<void> {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = runSchedulerPass(ctx)
      .catch((err) => ctx.logger.error({ err }, 'hooks scheduler pass failed'))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
