import type { Logger } from 'pino';
import type { Database } from '../../platform/db/index.ts';
import { startPeriodic } from '../../platform/periodic.ts';
import { recordChange } from './context.ts';
import * as db from './db.ts';
import { AuthState } from './state.ts';

/** The clientId recorded as the actor of expiry deletions. */
export const EXPIRY_ACTOR = 'static/taskcluster/auth';

/**
 * Deletes clients past `expires` that asked for `deleteOnExpiration`. One statement deletes and
 * returns the rows, so several processes running this loop never delete (or announce) one twice.
 */
export async function expireClients(database: Database, now: Date): Promise<string[]> {
  return database.transaction(async (tx) => {
    const deleted = await db.deleteExpiredClients(tx, now);
    for (const clientId of deleted) {
      await recordChange(tx, 'client', clientId, EXPIRY_ACTOR, 'expired', 'client-deleted', now);
      await AuthState.announce(tx, `client:${clientId}`);
    }
    return deleted;
  });
}

export function startClientExpiryLoop(
  database: Database,
  logger: Logger,
  now: () => Date,
  intervalMs = 10 * 60 * 1000,
): () => Promise<void> {
  return startPeriodic({
    name: 'client expiry',
    intervalMs,
    logger,
    pass: async () => {
      const ids = await expireClients(database, now());
      if (ids.length > 0) logger.info({ clientIds: ids }, 'deleted expired clients');
    },
  });
}
