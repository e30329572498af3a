/**
 * Expiry of the index: entries, namespaces, history and handled-event marks past their
 * `expires` are deleted by a background pass (safe to run in several processes at once).
 */
import { startPeriodic } from '../../platform/periodic.ts';
import type { IndexContext } from './context.ts';
import { type ExpiryCounts, expireIndexData } from './db.ts';

/** How often the expiry pass runs (expired entries are already invisible; this only reclaims space). */
export const EXPIRY_INTERVAL_MS = 60 * 60 * 1000;

/** One expiry pass at the service's current time: how many rows of each kind went. */
export function expireIndex(ctx: IndexContext): Promise<ExpiryCounts> {
  return expireIndexData(ctx.database, ctx.now());
}

/** Runs the pass now and then every `intervalMs` (never twice at once); returns what stops it. */
export function startExpiryLoop(ctx: IndexContext, intervalMs = EXPIRY_INTERVAL_MS): () => Promise<void> {
  return startPeriodic({
    name: 'index expiry',
    intervalMs,
    logger: ctx.logger,
    pass: async () => {
      const counts = await expireIndex(ctx);
      if (Object.values(counts).some((n) => n > 0)) ctx.logger.info({ counts }, 'expired index data');
    },
  });
}
