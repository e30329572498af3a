import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Database } from '../../../src/platform/db/database.ts';
import {
  type Binding,
  type ConsumeOptions,
  type Consumer,
  type DeliveredMessage,
  type EventBus,
  type EventMessage,
  PublishError,
} from '../../../src/platform/events/bus.ts';
import { InProcessBus } from '../../../src/platform/events/in-process-bus.ts';
import { enqueueEvent, routesToCC } from '../../../src/platform/events/outbox.ts';
import { OutboxRelay } from '../../../src/platform/events/relay.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { taskCompleted, taskDefined, testService } from '../../helpers/events.ts';

const svc = testService('relay');
const definedExchange = 'exchange/taskyard-test-relay/v1/task-defined';
const completedExchange = 'exchange/taskyard-test-relay/v1/task-completed';

/** A bus that fails on demand; everything else goes to a real in-process bus. */
class FlakyBus implements EventBus {
  failNext = 0;
  /** When set, the failing publish reports this many leading messages as confirmed. */
  confirmBeforeFailure = 0;
  published: EventMessage[] = [];
  constructor(private readonly inner: EventBus) {}
  async publish(messages: EventMessage[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      const confirmed = messages.slice(0, this.confirmBeforeFailure);
      this.published.push(...confirmed);
      await this.inner.publish(confirmed);
      throw new PublishError('broker unavailable', confirmed.length);
    }
    this.published.push(...messages);
    await this.inner.publish(messages);
  }
  consume(opts: ConsumeOptions): Promise<Consumer> {
    return this.inner.consume(opts);
  }
  bindQueue(queueName: string, bindings: Binding[]): Promise<void> {
    return this.inner.bindQueue(queueName, bindings);
  }
  unbindQueue(queueName: string, bindings: Binding[]): Promise<void> {
    return this.inner.unbindQueue(queueName, bindings);
  }
  deleteQueue(queueName: string): Promise<void> {
    return this.inner.deleteQueue(queueName);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let t: TestDatabase;
let bus: InProcessBus;
let received: DeliveredMessage[];
const relays: OutboxRelay[] = [];

beforeEach(async () => {
  t = await createTestDatabase();
  bus = new InProcessBus();
  received = [];
  await bus.consume({
    queueName: 'all',
    bindings: [
      { exchange: definedExchange, pattern: '#' },
      { exchange: completedExchange, pattern: '#' },
    ],
    prefetch: 1,
    handler: async (m) => void received.push(m),
  });
});

afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
  await bus.close();
  await t.drop();
});

function relay(opts: Partial<ConstructorParameters<typeof OutboxRelay>[0]> = {}): OutboxRelay {
  const r = new OutboxRelay({ db: t.db, bus, ...opts });
  relays.push(r);
  return r;
}

async function enqueue(db: Database, seqs: number[], opts: { rollback?: boolean; routes?: string[] } = {}) {
  await db
    .transaction(async (tx) => {
      for (const seq of seqs) {
        const decl = seq % 2 === 0 ? taskDefined : taskCompleted;
        const taskId = `task${seq}`;
        await enqueueEvent(
          tx,
          svc,
          decl,
          { taskId, seq },
          { taskId, schedulerId: 's' },
          routesToCC(opts.routes ?? []),
        );
      }
      if (opts.rollback) {
        throw new Error('rollback');
      }
    })
    .catch((err: Error) => {
      if (err.message !== 'rollback') {
        throw err;
      }
    });
}

async function outboxCount(): Promise<number> {
  const res = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM event_outbox');
  return res.rows[0].n;
}

const seqOf = (m: { payload: unknown }) => (m.payload as { seq: number }).seq;

describe('OutboxRelay', () => {
  it('publishes the events of a transaction in order, with routing keys and routes, and empties the outbox', async () => {
    await enqueue(t.db, [0, 1, 2, 3, 4], { routes: ['index.x'] });
    const r = relay();
    await r.start();
    await r.waitIdle();
    await bus.waitIdle();
    expect(received.map(seqOf)).toEqual([0, 1, 2, 3, 4]);
    expect(received[0]).toMatchObject({
      exchange: definedExchange,
      routingKey: 'primary.task0._.s._',
      routes: ['index.x'],
      redelivered: false,
    });
    expect(received[1].exchange).toBe(completedExchange);
    expect(await outboxCount()).toBe(0);
  });

  it('never publishes an event whose transaction rolled back', async () => {
    await enqueue(t.db, [1], { rollback: true });
    await enqueue(t.db, [2]);
    const r = relay();
    expect(await r.drainOnce()).toBe(1);
    expect(await r.drainOnce()).toBe(0);
    await bus.waitIdle();
    expect(received.map(seqOf)).toEqual([2]);
  });

  it('wakes up on NOTIFY rather than waiting for the polling interval', async () => {
    const r = relay({ pollIntervalMs: 60_000 });
    await r.start();
    await enqueue(t.db, [7]);
    await vi.waitFor(() => expect(received.map(seqOf)).toEqual([7]), { timeout: 2000 });
  });

  it('keeps the rows when publishing fails and publishes them once the bus recovers', async () => {
    const flaky = new FlakyBus(bus);
    flaky.failNext = 2;
    const r = relay({ bus: flaky });
    await enqueue(t.db, [0, 1, 2]);
    const versions = async () =>
      (await t.db.query<{ v: string }>('SELECT ctid::text || xmin::text AS v FROM event_outbox ORDER BY id'))
        .rows;
    const before = await versions();
    await expect(r.drainOnce()).rejects.toThrow('broker unavailable');
    // Rolled back, not rewritten: the same row versions.
    expect(await versions()).toEqual(before);
    expect(await outboxCount()).toBe(3);
    await r.start(); // second attempt fails too, then the backoff retry succeeds
    await r.waitIdle();
    await bus.waitIdle();
    expect(received.map(seqOf)).toEqual([0, 1, 2]);
  });

  it('deletes only the confirmed prefix of a partly failed batch and retries the rest in order', async () => {
    const flaky = new FlakyBus(bus);
    flaky.failNext = 1;
    flaky.confirmBeforeFailure = 2;
    const r = relay({ bus: flaky });
    await enqueue(t.db, [0, 1, 2, 3]);
    const rowsOf = async () =>
      (
        await t.db.query<{ id: string; created: string; payload: string }>(
          'SELECT id::text, created::text, payload::text FROM event_outbox ORDER BY id',
        )
      ).rows;
    const before = await rowsOf();
    await expect(r.drainOnce()).rejects.toBeInstanceOf(PublishError);
    // The unconfirmed rows are back as they were: ids, times to the microsecond, payload text.
    expect(await rowsOf()).toEqual(before.slice(2));
    expect(await outboxCount()).toBe(2);
    expect(await r.drainOnce()).toBe(2);
    await bus.waitIdle();
    expect(received.map(seqOf)).toEqual([0, 1, 2, 3]);
  });

  it('publishes in batches, draining everything', async () => {
    await enqueue(
      t.db,
      Array.from({ length: 25 }, (_, i) => i),
    );
    const r = relay({ batchSize: 10 });
    await r.start();
    await r.waitIdle();
    await bus.waitIdle();
    expect(received.map(seqOf)).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('never publishes a row twice when two relays with their own pools share the database', async () => {
    const otherDb = new Database({ url: t.url, max: 3 });
    try {
      const a = relay({ batchSize: 7, pollIntervalMs: 20 });
      const b = relay({ db: otherDb, batchSize: 7, pollIntervalMs: 20 });
      await Promise.all([a.start(), b.start()]);
      const writers = Array.from({ length: 10 }, (_, w) =>
        (async () => {
          for (let i = 0; i < 10; i++) {
            const base = (w * 10 + i) * 3;
            await enqueue(w % 2 === 0 ? t.db : otherDb, [base, base + 1, base + 2]);
          }
        })(),
      );
      await Promise.all(writers);
      await a.waitIdle();
      await b.waitIdle();
      await bus.waitIdle();
      const seqs = received.map(seqOf);
      expect(seqs).toHaveLength(300);
      expect(new Set(seqs).size).toBe(300);
      // Events of one transaction keep their relative order (other transactions' events may interleave).
      const position = new Map(seqs.map((seq, i) => [seq, i]));
      for (let base = 0; base < 300; base += 3) {
        expect(position.get(base)!).toBeLessThan(position.get(base + 1)!);
        expect(position.get(base + 1)!).toBeLessThan(position.get(base + 2)!);
      }
    } finally {
      await Promise.all(relays.splice(0).map((r) => r.stop()));
      await otherDb.close();
    }
  });
});
