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
}

const DEFAULT_MAX_ATTEMPTS = 5;
const RETRYABLE_CODES: string[] = [PgError.SerializationFailure, PgError.DeadlockDetected];

/** Statements with more placeholders than this are built for one call (bulk inserts): not prepared. */
const MAX_PREPARED_PARAMS = 32;
const preparedNames = new Map<string, string>();

/**
 * The query as pg runs it: a parameterized statement of the code's fixed set is a named
 * (prepared) statement, parsed and planned once per connection instead of at every call.
 */
export function statement(text: string, params?: unknown[]): pg.QueryConfig | string {
  if (!params || params.length === 0 || params.length > MAX_PREPARED_PARAMS) return text;
  let name = preparedNames.get(text);
  if (name === undefined) {
    name = `ty_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`;
    preparedNames.set(text, name);
  }
  return { name, text, values: params };
}

/** Wraps one pg client so callers only see `query` and cannot release it or leak it past the transaction. */
class TransactionClient implements Queryable {
  constructor(private readonly client: pg.PoolClient) {}
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
    this.connection = { connectionString: opts.url, application_name: opts.applicationName ?? 'taskyard' };
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
        return await this.transactionOnce(fn, opts.isolationLevel);
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

  private async transactionOnce<T>(
    fn: (tx: Queryable) => Promise<T>,
    isolation?: IsolationLevel,
  ): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(isolation ? `BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}` : 'BEGIN');
      const result = await fn(new TransactionClient(client));
      await client.query('COMMIT');
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
      return await fn(new TransactionClient(client));
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
    });
    await listener.start();
    this.listeners.add(listener);
    return () => listener.close();
  }

  /** pg_notify; pass `tx` so the notification is sent only if that transaction commits. */
  async notify(channel: string, payload: string, tx?: Queryable): Promise<void> {
    await (tx ?? this).query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    await Promise.all([...this.listeners].map((l) => l.close()));
    await this.pool.end();
  }
}
