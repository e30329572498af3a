/** Expiry of notify's records: send marks past their event's expiry, rate-limit rows past the window. */
import { startPeriodic } from '../../platform/periodic.ts';
import { type ExpiryCounts, expireNotifyData } from './db.ts';
import type { NotifyContext } from './notifier.ts';

export const EXPIRY_INTERVAL_MS = 10 * 60 * 1000;

export function expireNotify(ctx: NotifyContext): Promise<ExpiryCounts> {
  return expireNotifyData(ctx.database, ctx.now(), ctx.config.notifyEmailRateWindowSeconds * 1000);
}

/** Runs the pass now and then every `intervalMs` (never twice at once); returns what stops it. */
export function startExpiryLoop(ctx: NotifyContext, intervalMs = EXPIRY_INTERVAL_MS): () => Promise<void> {
  return startPeriodic({
    name: 'notify expiry',
    intervalMs,
    logger: ctx.logger,
    pass: async () => {
      const counts = await expireNotify(ctx);
      if (counts.sends > 0 || counts.emailSends > 0) ctx.logger.info({ counts }, 'expired notify records');
    },
  });
}
