import type { Logger } from 'pino';
import type { ServiceApi } from '../../platform/api/types.ts';
import type { StaticClient } from '../../platform/config.ts';
import type { Database } from '../../platform/db/index.ts';
import { auditEndpoints } from './api-audit.ts';
import { clientEndpoints } from './api-clients.ts';
import { cloudEndpoints } from './api-cloud.ts';
import { roleEndpoints } from './api-roles.ts';
import { scopeEndpoints } from './api-scopes.ts';
import { testEndpoints } from './api-test.ts';
import { startClientExpiryLoop } from './client-expiry.ts';
import type { AuthContext } from './context.ts';
import * as db from './db.ts';
import { authExchanges } from './events.ts';
import { HawkAuthenticator } from './hawk-authenticator.ts';
import { NonceCache } from './nonce-cache.ts';
import { AuthState } from './state.ts';
import { syncStaticClients } from './static-clients.ts';
import { TokenCipher } from './token-crypto.ts';

export interface AuthServiceOptions {
  database: Database;
  logger: Logger;
  /** base64 of 32 bytes: the key access tokens are encrypted with at rest. */
  accessTokenKey: string;
  staticClients: StaticClient[];
  trustProxy: boolean;
  now?: () => Date;
  /** Run the client-expiry loop in this process (default true). */
  backgroundLoops?: boolean;
}

/** lastDateUsed is written at most this often per client, so use costs no write per request. */
const LAST_USED_GRANULARITY_MS = 60 * 60 * 1000;

export interface AuthService {
  api: ServiceApi;
  exchanges: typeof authExchanges;
  authenticator: HawkAuthenticator;
  state: AuthState;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createAuthService(opts: AuthServiceOptions): AuthService {
  const now = opts.now ?? (() => new Date());
  const cipher = new TokenCipher(opts.accessTokenKey);
  const logger = opts.logger.child({ service: 'auth' });
  const state = new AuthState(opts.database, cipher, logger, 60_000, () => now().getTime());
  const lastTouched = new Map<string, number>();
  const authenticator = new HawkAuthenticator({
    clients: state,
    expand: (scopes) => state.expand(scopes),
    now: () => now().getTime(),
    nonces: new NonceCache(15 * 60),
    onUsed: (clientId) => {
      const t = now().getTime();
      if (t - (lastTouched.get(clientId) ?? 0) < LAST_USED_GRANULARITY_MS) return;
      if (lastTouched.size > 100_000) lastTouched.clear();
      lastTouched.set(clientId, t);
      db.touchClientUsed(opts.database, clientId, new Date(t), LAST_USED_GRANULARITY_MS).catch((err) =>
        logger.warn({ err, clientId }, 'recording lastDateUsed failed'),
      );
    },
  });
  const ac: AuthContext = {
    database: opts.database,
    state,
    cipher,
    authenticator,
    logger,
    now,
    trustProxy: opts.trustProxy,
  };
  const api: ServiceApi = {
    serviceName: 'auth',
    title: 'Auth Service',
    description:
      'Clients, roles and scopes: who may do what. Every other service asks this one to authenticate requests.',
    endpoints: [
      ...clientEndpoints(ac),
      ...auditEndpoints(ac),
      ...roleEndpoints(ac),
      ...scopeEndpoints(ac),
      ...cloudEndpoints(),
      ...testEndpoints(ac),
    ],
  };
  let stopExpiry: (() => Promise<void>) | undefined;
  return {
    api,
    exchanges: authExchanges,
    authenticator,
    state,
    async start() {
      await syncStaticClients(opts.database, cipher, opts.staticClients, now());
      await state.start();
      if (opts.backgroundLoops !== false) stopExpiry = startClientExpiryLoop(opts.database, logger, now);
    },
    async stop() {
      await stopExpiry?.();
      await state.stop();
    },
  };
}
