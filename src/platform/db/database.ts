import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { isPgError, PgError } from './errors.ts';
import { Listener, type ListenOptions } from './listener.ts';

/** Anything that runs a parameterized query: the pool, or a transaction's client. */
export interface Queryable {
  // biome-ignore lint/suspicious/noExplicitAny: mirrors pg's own default row type
  query<R extends pg.QueryResultRow = any>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /**
   * NOTIFY `channel` once this work is committed (at once outside a transaction; never if the
   * transaction rolls back). See `Database.notifySoon`.
   */
  notifyAfterCommit?(channel: string, payload: string, opts?: NotifyOptions): void;
}

export interface NotifyOptions {
  /**
   * Only this process's listeners: for frequent wake-ups whose listeners in other processes
   * poll anyway (every listening backend reads every notification sent).
   */
  localOnly?: boolean;
}

/**
 * NOTIFY after `q`'s transaction commits: through `notifyAfterCommit` when `q` offers it, or else
 * with pg_notify in the transaction itself.
 */
export async function notifyAfterCommit(
  q: Queryable,
  channel: string,
  payload: string,
  opts: NotifyOptions = {},
): Promise<void> {
  if (q.notifyAfterCommit) q.notifyAfterCommit(channel, payload, opts);
  else if (!opts.localOnly) await q.query('SELECT pg_notify($1, $2)', [channel, payload]);
}

export interface DatabaseOptions {
  url: string;
  max?: number;
  applicationName?: string;
  logger?: Logger;
}

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  isolationLevel?: IsolationLevel;
  /** Total attempts including the first; only serialization failures and deadlocks are retried. */
  maxAttempts?: number;
  /**
   * Settings for this transaction only (SET LOCAL), sent with its BEGIN in one round trip: e.g.
   * planner settings that hold a hot statement to the plan it needs. Names and values are code's
   * constants, never input.
   */
  settings?: Readonly<Record<string, string>>;
}

const SETTING_NAME = /^[a-z_][a-z0-9_.]*$/;
const SETTING_VALUE = /^[A-Za-z0-9_.-]+$/;

/** BEGIN, with the isolation level and the SET LOCALs of `opts`: one simple-protocol query. */
function beginStatement(isolation?: IsolationLevel, settings: Readonly<Record<string, string>> = {}): string {
  const parts = [isolation ? `BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}` : 'BEGIN'];
  for (const [name, value] of Object.entries(settings)) {
    if (!SETTING_NAME.test(name) || !SETTING_VALUE.test(value)) {
      throw new Error(`invalid transaction setting ${JSON.stringify(name)} = ${JSON.stringify(value)}`);
    }
    parts.push(`SET LOCAL ${name} = '${value}'`);
  }
  return parts.join('; ');
}

const DEFAULT_MAX_ATTEMPTS = 5;
const RETRYABLE_CODES: string[] = [PgError.SerializationFailure, PgError.DeadlockDetected];

/** Statements with more placeholders than this are built for one call (bulk inserts): not prepared. */
const MAX_PREPARED_PARAMS = 32;
const preparedNames = new Map<string, string>();
/**
 * Starts a statement that must be planned at each call, not prepared: a prepared statement keeps
 * the plan made when its table was small (a fresh queue table planned as empty, say) after the
 * table grew.
 */
export const PLAN_EACH_TIME = '/* plan each time */ ';

/**
 * The query as pg runs it: a parameterized statement of the code's fixed set is a named
 * (prepared) statement, parsed and planned once per connection instead of at every call.
 */
export function statement(text: string, params?: unknown[]): pg.QueryConfig | string {
  if (!params || params.length === 0 || params.length > MAX_PREPARED_PARAMS) return text;
  // A statement whose best plan depends on how big a fast-changing table is right now.
  if (text.startsWith(PLAN_EACH_TIME)) return text;
  let name = preparedNames.get(text);
  if (name === undefined) {
    name = `ty_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`;
    preparedNames.set(text, name);
  }
  return { name, text, values: params };
}

/** Wraps one pg client so callers only see `query` and cannot release it or leak it past the transaction. */
class TransactionClient implements Queryable {
  /** Run after COMMIT (notifications); dropped on rollback. */
  readonly afterCommit: Array<() => void> = [];

  constructor(
    private readonly client: pg.PoolClient,
    private readonly database: Database,
    private readonly inTransaction: boolean,
  ) {}

  notifyAfterCommit(channel: string, payload: string, opts?: NotifyOptions): void {
    if (this.inTransaction) this.afterCommit.push(() => this.database.notifySoon(channel, payload, opts));
    else this.database.notifySoon(channel, payload, opts);
  }
  // biome-ignore lint/suspicious/noExplicitAny: mirrors pg's own default row type
  query<R extends pg.QueryResultRow = any>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    const q = statement(text, params);
    return typeof q === 'string' ? this.client.query<R>(q, params) : this.client.query<R>(q);
  }
}

export class Database implements Queryable {
  readonly pool: pg.Pool;
  private readonly logger: Logger;
  private readonly connection: pg.ClientConfig;
  private readonly listeners = new Set<Listener>();
  private closed = false;

  constructor(opts: DatabaseOptions) {
    this.logger = opts.logger ?? pino({ enabled: false });
    this.connection = {
      connectionString: opts.url,
      application_name: opts.applicationName ?? 'taskyard',
      // No JIT compilation: every statement here is short, and a cost estimate inflated by stale
      // statistics (or by a planner setting, see TransactionOptions.settings) would otherwise
      // spend hundreds of milliseconds compiling one. An `options` parameter in the URL replaces
      // this one.
      options: '-c jit=off',
    };
    this.pool = new pg.Pool({ ...this.connection, max: opts.max ?? 10 });
    // An idle client whose backend dies emits 'error' on the pool; unhandled, it would kill the process.
    this.pool.on('error', (err) => this.logger.warn({ err }, 'idle PostgreSQL client failed'));
  }

  // biome-ignore lint/suspicious/noExplicitAny: mirrors pg's own default row type
  query<R extends pg.QueryResultRow = any>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    const q = statement(text, params);
    return typeof q === 'string' ? this.pool.query<R>(q, params) : this.pool.query<R>(q);
  }

  /**
   * Runs `fn` in one transaction on one connection. Serialization failures
   * and deadlocks are retried with jittered backoff, so `fn` may run more
   * than once: it must not have side effects outside the database (publish
   * events through the outbox instead).
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transactionOnce(fn, beginStatement(opts.isolationLevel, opts.settings));
      } catch (err) {
        const retryable = RETRYABLE_CODES.some((code) => isPgError(err, code));
        if (!retryable || attempt >= maxAttempts) {
          throw err;
        }
        const delay = Math.random() * 20 * 2 ** attempt;
        this.logger.debug({ err, attempt, delay }, 'retrying transaction');
        await sleep(delay);
      }
    }
  }

  private async transactionOnce<T>(fn: (tx: Queryable) => Promise<T>, begin: string): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(begin);
      const tx = new TransactionClient(client, this, true);
      const result = await fn(tx);
      await client.query('COMMIT');
      for (const after of tx.afterCommit) after();
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // The connection is unusable (e.g. backend died); destroy it rather than return it to the pool.
        broken = rollbackErr as Error;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Runs `fn` with one dedicated connection (for session state such as
   * advisory locks). The connection is destroyed instead of reused if `fn`
   * fails, because the session may hold state we can no longer vouch for.
   */
  async withConnection<T>(fn: (conn: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let failed: Error | undefined;
    try {
      return await fn(new TransactionClient(client, this, false));
    } catch (err) {
      failed = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      client.release(failed);
    }
  }

  /**
   * LISTENs on `channel` with a dedicated connection that reconnects on its
   * own. Resolves once the first LISTEN is in place; the returned function
   * stops listening.
   */
  async listen(
    channel: string,
    onNotify: (payload: string) => void,
    options: ListenOptions = {},
  ): Promise<() => Promise<void>> {
    if (this.closed) {
      throw new Error('Database is closed');
    }
    const listener = new Listener({
      connection: this.connection,
      channel,
      onNotify,
      options,
      logger: this.logger,
      onClosed: () => this.listeners.delete(listener),
      sentLocally: this.notifierPids,
    });
    await listener.start();
    this.listeners.add(listener);
    return () => listener.close();
  }

  /** pg_notify; pass `tx` so the notification is sent only if that transaction commits. */
  async notify(channel: string, payload: string, tx?: Queryable): Promise<void> {
    await (tx ?? this).query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  notifyAfterCommit(channel: string, payload: string, opts?: NotifyOptions): void {
    this.notifySoon(channel, payload, opts);
  }

  /**
   * Notifies `channel`: this process's listeners at once, other processes' through PostgreSQL
   * moments later. Notifications wait for a flush that sends all of them (distinct channel and
   * payload pairs) in one statement, one flush in flight at a time. Why not pg_notify inside the
   * transactions that cause them: PostgreSQL serializes the commits of every transaction that
   * notifies (a database-wide lock held through the WAL flush), which made notifying transactions
   * commit one at a time. A notification lost to a crash between a commit and its flush is
   * covered by the listeners' fallback polls, as one lost in a reconnect is.
   */
  notifySoon(channel: string, payload: string, opts: NotifyOptions = {}): void {
    if (this.closed) return;
    for (const listener of this.listeners) {
      if (listener.channel === channel) listener.deliverLocally(payload);
    }
    if (opts.localOnly) return;
    let payloads = this.unsent.get(channel);
    if (!payloads) {
      payloads = new Set();
      this.unsent.set(channel, payloads);
    }
    payloads.add(payload);
    this.flushing ??= this.flushNotifications();
  }

  private readonly unsent = new Map<string, Set<string>>();
  private notifier: pg.Client | undefined;

  /**
   * The connection that sends notifySoon's notifications: its own, not the pool's, so that only
   * these (delivered locally already) are ignored when they come back.
   */
  private async notifierClient(): Promise<pg.Client> {
    if (this.notifier) return this.notifier;
    const client = new pg.Client({ ...this.connection, application_name: 'taskyard-notify' });
    client.on('error', (err) => {
      this.logger.debug({ err }, 'notification connection lost');
      this.dropNotifier(client);
    });
    await client.connect();
    const pid = (client as unknown as { processID?: number }).processID;
    if (pid !== undefined) this.notifierPids.add(pid);
    this.notifier = client;
    return client;
  }

  /** Forgets the notification connection (and its backend pid, which the server may reuse). */
  private dropNotifier(client: pg.Client | undefined): void {
    if (!client) return;
    if (this.notifier === client) this.notifier = undefined;
    const pid = (client as unknown as { processID?: number }).processID;
    if (pid !== undefined) this.notifierPids.delete(pid);
    client.end().catch(() => undefined);
  }

  /** The backend of the notification connection: its echoes were delivered here already. */
  private readonly notifierPids = new Set<number>();
  private flushing: Promise<void> | undefined;

  private async flushNotifications(): Promise<void> {
    try {
      // Gathers what the current burst of commits adds before the first flush.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.unsent.size > 0) {
        const channels: string[] = [];
        const payloads: string[] = [];
        for (const [channel, set] of this.unsent) {
          for (const payload of set) {
            channels.push(channel);
            payloads.push(payload);
          }
        }
        this.unsent.clear();
        try {
          const client = await this.notifierClient();
          await client.query('SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS u(c, p)', [
            channels,
            payloads,
          ]);
        } catch (err) {
          this.dropNotifier(this.notifier);
          if (!this.closed) this.logger.warn({ err }, 'cannot send notifications; listeners will poll');
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    await this.flushing;
    this.closed = true;
    const notifier = this.notifier;
    this.dropNotifier(notifier);
    await notifier?.end().catch(() => undefined);
    await Promise.all([...this.listeners].map((l) => l.close()));
    await this.pool.end();
  }
}
