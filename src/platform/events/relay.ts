import { setTimeout as sleep } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import type { Database } from '../db/database.ts';
import { type EventBus, type EventMessage, PublishError } from './bus.ts';
import { OUTBOX_CHANNEL } from './outbox.ts';

export interface OutboxRelayOptions {
  db: Database;
  bus: EventBus;
  logger?: Logger;
  /** Rows per publish; default 500. */
  batchSize?: number;
  /** Fallback polling in case a NOTIFY is missed; default 1000 ms. */
  pollIntervalMs?: number;
  /** Cap for the retry backoff after failed publishes; default 30 s. */
  maxBackoffMs?: number;
}

interface OutboxRow {
  id: string;
  exchange: string;
  routing_key: string;
  cc: string[];
  /** The payload's JSON text. */
  payload: string;
  /** As PostgreSQL prints it (to the microsecond). */
  created: string;
}

/** Rolls a batch back when none of it was published; carries the publish error. */
class NothingConfirmed extends Error {
  constructor(readonly publishError: unknown) {
    super('no event of the batch was confirmed');
  }
}

/** Ascending outbox ids (bigint, as decimal strings without leading zeros). */
const byId = (a: OutboxRow, b: OutboxRow): number =>
  a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

interface BatchResult {
  /** False if another relay holds the drain lock and is doing the work. */
  locked: boolean;
  fetched: number;
  published: number;
  error?: unknown;
}

// Fixed key ("tyrelay" in ASCII) shared by every relay process.
const RELAY_LOCK_KEY = '32777620004184441';

/**
 * Moves events from `event_outbox` to the bus. Each batch is one
 * transaction: take (delete) the first rows, publish, put back the rows after
 * the last one the bus confirmed, commit (or roll back when it confirmed
 * none). A crash between confirm and commit republishes the
 * batch (at-least-once; consumers are idempotent), never loses it.
 *
 * Several relays (processes) may run against one database. Only one drains
 * at a time (transaction-level advisory lock): with concurrent batches, the
 * events of one transaction that straddle a batch boundary could be
 * published out of order. A row that something else deletes meanwhile is
 * skipped by the DELETE that takes it, so it is never published twice.
 */
export class OutboxRelay {
  private readonly db: Database;
  private readonly bus: EventBus;
  private readonly logger: Logger;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly maxBackoffMs: number;
  private started = false;
  private stopping = false;
  private running: Promise<void> | null = null;
  private dirty = false;
  private failures = 0;
  private unlisten: (() => Promise<void>) | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private backoffTimer: NodeJS.Timeout | null = null;
  private exclusive: Promise<unknown> = Promise.resolve();

  constructor(opts: OutboxRelayOptions) {
    this.db = opts.db;
    this.bus = opts.bus;
    this.logger = opts.logger ?? pino({ enabled: false });
    this.batchSize = opts.batchSize ?? 500;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  }

  /** LISTENs for new rows and drains right away (rows may have piled up while no relay ran). */
  async start(): Promise<void> {
    if (this.started) {
      throw new Error('OutboxRelay already started');
    }
    this.started = true;
    this.unlisten = await this.db.listen(OUTBOX_CHANNEL, () => this.wake(), {
      // NOTIFYs sent while our LISTEN connection was down are lost.
      onReconnect: () => this.wake(),
    });
    this.pollTimer = setInterval(() => this.wake(), this.pollIntervalMs);
    this.pollTimer.unref();
    this.wake();
  }

  /** Stops listening and waits for the batch in progress, if any. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.pollTimer) {
      clearInterval(this.pollTimer);
      this.pollTimer = null;
    }
    if (this.backoffTimer) {
      clearTimeout(this.backoffTimer);
      this.backoffTimer = null;
    }
    await this.unlisten?.();
    this.unlisten = null;
    await this.running;
    await this.exclusive.catch(() => undefined);
  }

  /** Publishes one batch; returns how many events were published. Throws if the bus failed. */
  async drainOnce(): Promise<number> {
    const result = await this.batch();
    if (result.error !== undefined) {
      throw result.error;
    }
    return result.published;
  }

  /**
   * Resolves once the outbox is empty (for tests and graceful shutdown).
   * When not started it drains by itself; publish failures are retried until
   * the timeout, whose error carries the last failure.
   */
  async waitIdle(opts: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    let lastError: unknown;
    for (;;) {
      if (!this.running && !(await this.hasPending())) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`outbox still has events after ${opts.timeoutMs ?? 10_000} ms`, { cause: lastError });
      }
      let published = 0;
      if (this.started) {
        this.wake();
      } else {
        try {
          published = await this.drainOnce();
        } catch (err) {
          lastError = err;
        }
      }
      if (published === 0) {
        await sleep(10);
      }
    }
  }

  private async hasPending(): Promise<boolean> {
    const res = await this.db.query<{ pending: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM event_outbox) AS pending',
    );
    return res.rows[0]?.pending ?? false;
  }

  private wake(): void {
    if (!this.started || this.stopping || this.backoffTimer) {
      return; // a scheduled retry will pick the rows up
    }
    if (this.running) {
      this.dirty = true; // rows arrived during a drain: go round once more
      return;
    }
    this.running = this.drainLoop().finally(() => {
      this.running = null;
    });
  }

  private async drainLoop(): Promise<void> {
    do {
      this.dirty = false;
      for (;;) {
        let result: BatchResult;
        try {
          result = await this.batch();
        } catch (err) {
          result = { locked: true, fetched: 0, published: 0, error: err };
        }
        if (result.error !== undefined) {
          this.scheduleRetry(result.error);
          return;
        }
        this.failures = 0;
        // A short batch means we caught up; if another relay holds the lock, it is doing the work.
        if (!result.locked || result.fetched < this.batchSize || this.stopping) {
          break;
        }
      }
    } while (this.dirty && !this.stopping);
  }

  private scheduleRetry(err: unknown): void {
    this.failures++;
    const base = Math.min(this.maxBackoffMs, 100 * 2 ** (this.failures - 1));
    const delay = base / 2 + Math.random() * (base / 2);
    this.logger.warn({ err, failures: this.failures, delay }, 'outbox relay: publish failed, retrying later');
    if (this.stopping) {
      return;
    }
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      this.wake();
    }, delay);
  }

  /** One batch, serialized with any other batch of this relay (the loop and direct drainOnce calls). */
  private batch(): Promise<BatchResult> {
    const next = this.exclusive.catch(() => undefined).then(() => this.runBatch());
    this.exclusive = next;
    return next;
  }

  private async runBatch(): Promise<BatchResult> {
    try {
      return await this.runBatchOnce();
    } catch (err) {
      if (err instanceof NothingConfirmed) {
        return { locked: true, fetched: 0, published: 0, error: err.publishError };
      }
      throw err;
    }
  }

  private runBatchOnce(): Promise<BatchResult> {
    // One attempt: retrying the transaction would republish the batch for no benefit.
    return this.db.transaction(
      async (tx) => {
        const lock = await tx.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_xact_lock($1::bigint) AS locked',
          [RELAY_LOCK_KEY],
        );
        if (!lock.rows[0]?.locked) {
          return { locked: false, fetched: 0, published: 0 };
        }
        // Taken and deleted in one pass (a FOR UPDATE lock first would write every row twice);
        // the drain lock keeps other relays away, and a failed publish puts back what it did not
        // deliver, or the rollback does. The payload comes back as the text that was written.
        const deleted = await tx.query<OutboxRow>(
          `DELETE FROM event_outbox WHERE id = ANY(ARRAY(SELECT id FROM event_outbox ORDER BY id LIMIT $1))
           RETURNING id, exchange, routing_key, cc, payload::text AS payload, created::text AS created`,
          [this.batchSize],
        );
        if (deleted.rows.length === 0) {
          return { locked: true, fetched: 0, published: 0 };
        }
        const rows = deleted.rows.sort(byId);
        const messages: EventMessage[] = rows.map((row) => ({
          exchange: row.exchange,
          routingKey: row.routing_key,
          cc: row.cc,
          payloadJson: row.payload,
          messageId: `outbox-${row.id}`,
        }));
        let confirmed = rows.length;
        let error: unknown;
        try {
          await this.bus.publish(messages);
        } catch (err) {
          error = err;
          // Only a confirmed prefix may go: deleting a later row while an earlier one stays would reorder.
          confirmed =
            err instanceof PublishError ? Math.max(0, Math.min(err.confirmedCount, rows.length)) : 0;
        }
        if (confirmed === 0) {
          // Nothing went: the rollback puts every row back, and nothing is rewritten while the
          // broker is away.
          throw new NothingConfirmed(error);
        }
        if (confirmed < rows.length) {
          // The rest go back under their own ids, so they keep their place in line.
          try {
            await tx.query(
              `INSERT INTO event_outbox (id, exchange, routing_key, cc, payload, created)
               SELECT r.id, r.exchange, r.routing_key, ARRAY(SELECT jsonb_array_elements_text(r.cc)),
                 r.payload::json, r.created::timestamptz
               FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, exchange text, routing_key text, cc jsonb,
                 payload text, created text)`,
              [JSON.stringify(rows.slice(confirmed))],
            );
          } catch (insertError) {
            // The rollback puts them back (the confirmed ones too: published again later).
            this.logger.error({ err: insertError }, 'outbox relay: could not put back unconfirmed rows');
            throw new NothingConfirmed(error);
          }
        }
        this.logger.debug({ fetched: rows.length, published: confirmed }, 'outbox relay batch');
        return { locked: true, fetched: rows.length, published: confirmed, error };
      },
      { maxAttempts: 1 },
    );
  }
}
