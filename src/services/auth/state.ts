import type { Logger } from 'pino';
import type { Database, Queryable } from '../../platform/db/index.ts';
import { RoleResolver } from '../../platform/scopes/index.ts';
import * as db from './db.ts';
import type { ClientCredentials, ClientSource } from './hawk-authenticator.ts';
import type { TokenCipher } from './token-crypto.ts';

/** NOTIFY channel on which auth changes are announced to every process sharing the database. */
export const AUTH_CHANNEL = 'taskyard_auth_changed';

/**
 * What authentication reads on every request, kept in memory: clients by id (with their expanded
 * scopes) and the role resolver. Changes in any process are announced with NOTIFY; the cached
 * entries also age out, so a missed notification costs at most `ttlMs` of staleness.
 */
export class AuthState implements ClientSource {
  private resolver = new RoleResolver([]);
  private readonly clients = new Map<string, { creds: ClientCredentials | undefined; loadedAt: number }>();
  private rolesLoadedAt = 0;
  private rolesLoading: Promise<void> | undefined;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly database: Database,
    private readonly cipher: TokenCipher,
    private readonly logger: Logger,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.database.listen(AUTH_CHANNEL, (payload) => this.onChange(payload));
    await this.reloadRoles();
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
  }

  /** Announces a change in the caller's transaction, so other processes hear it only on commit. */
  static async announce(tx: Queryable, what: `client:${string}` | 'roles'): Promise<void> {
    await tx.query('select pg_notify($1, $2)', [AUTH_CHANNEL, what]);
  }

  private onChange(payload: string): void {
    if (payload === 'roles') {
      void this.reloadRoles().catch((err) => this.logger.error({ err }, 'reloading roles failed'));
    } else if (payload.startsWith('client:')) {
      this.clients.delete(payload.slice('client:'.length));
    }
  }

  /** Reloads every role and rebuilds the resolver; cached client expansions are dropped. */
  async reloadRoles(): Promise<void> {
    if (this.rolesLoading) return this.rolesLoading;
    this.rolesLoading = (async () => {
      try {
        const roles = await db.listRoles(this.database);
        this.resolver = new RoleResolver(roles.map((r) => ({ roleId: r.roleId, scopes: r.scopes })));
        this.rolesLoadedAt = this.now();
        this.clients.clear();
      } finally {
        this.rolesLoading = undefined;
      }
    })();
    return this.rolesLoading;
  }

  expand(scopes: string[]): string[] {
    if (this.now() - this.rolesLoadedAt > this.ttlMs && !this.rolesLoading) {
      void this.reloadRoles().catch((err) => this.logger.error({ err }, 'reloading roles failed'));
    }
    return this.resolver.expand(scopes);
  }

  /** Forgets one client in this process (others learn through NOTIFY). */
  forgetClient(clientId: string): void {
    this.clients.delete(clientId);
  }

  async get(clientId: string): Promise<ClientCredentials | undefined> {
    const cached = this.clients.get(clientId);
    if (cached && this.now() - cached.loadedAt < this.ttlMs) return cached.creds;
    const row = await db.getClient(this.database, clientId);
    const creds = row
      ? {
          clientId: row.clientId,
          accessToken: this.cipher.decrypt(row.encryptedAccessToken),
          expandedScopes: this.expand(row.scopes),
          expires: row.expires,
          disabled: row.disabled,
        }
      : undefined;
    // Bounded: unknown clientIds from random requests must not grow the map forever.
    if (this.clients.size > 50_000) this.clients.clear();
    this.clients.set(clientId, { creds, loadedAt: this.now() });
    return creds;
  }
}
