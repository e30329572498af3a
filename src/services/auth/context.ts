import type { Logger } from 'pino';
import type { Database, Queryable } from '../../platform/db/index.ts';
import { enqueueEvent } from '../../platform/events/index.ts';
import * as db from './db.ts';
import { authExchanges, exchangeByName } from './events.ts';
import type { HawkAuthenticator } from './hawk-authenticator.ts';
import type { AuthState } from './state.ts';
import type { TokenCipher } from './token-crypto.ts';

/** What the auth endpoints share. */
export interface AuthContext {
  database: Database;
  state: AuthState;
  cipher: TokenCipher;
  authenticator: HawkAuthenticator;
  logger: Logger;
  now: () => Date;
  trustProxy: boolean;
}

/** The audit record, the event and the cache announcement that every change writes with it. */
export async function recordChange(
  tx: Queryable,
  entity: db.EntityType,
  entityId: string,
  actor: string,
  action: string,
  exchange: string,
  now: Date,
): Promise<void> {
  await db.recordAudit(tx, entity, entityId, actor, action, now);
  const payload = entity === 'client' ? { version: 1, clientId: entityId } : { version: 1, roleId: entityId };
  await enqueueEvent(tx, authExchanges, exchangeByName(exchange), payload, {});
}

/** Scopes that end in `**` are refused: they read as a wildcard but would only match a literal `*`. */
export function refuseDoubleStar(scopes: string[] | undefined): string | undefined {
  return scopes?.find((s) => s.endsWith('**'));
}
