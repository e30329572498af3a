/**
 * Expiry: last fires are kept for `LAST_FIRE_TTL_MS` (a year, as upstream) and handled pulse
 * message ids for `PULSE_FIRE_MEMORY_MS`; a background pass deletes older ones (safe to run in
 * several processes at once).
 */
import { startPeriodic } from '../../platform/periodic.ts';
import * as db from './db.ts';
import type { HooksContext } from './fire.ts';

/** How often the expiry pass runs. */
export const EXPIRY_INTERVAL_MS = 60 * 60 * 1000;

export interface HooksExpiryCounts {
  lastFires: number;
  pulseFires: number;
}

/** One expiry pass at the service's current time. */
export async function expireHooksData(ctx: HooksContext): Promise<HooksExpiryCounts> {
  const now = ctx.now();
  return {
    lastFires: await db.expireLastFires(ctx.database, now),
    pulseFires: await db.expirePulseFires(ctx.database, now),
  };
}

/** Runs the pass now and then every `intervalMs` (never twice at once); returns what stops it. */
export function startExpiryLoop(ctx: HooksContext, intervalMs = EXPIRY_INTERVAL_MS): () => Promise<void> {
  return startPeriodic({
    name: 'hooks expiry',
    intervalMs,
    logger: ctx.logger,
    pass: async () => {
      const counts = await expireHooksData(ctx);
      if (counts.lastFires + counts.pulseFires > 0) ctx.logger.info({ counts }, 'expired hooks data');
    },
  });
}
