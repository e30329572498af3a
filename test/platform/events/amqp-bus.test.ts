import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { AmqpBus } from '../../../src/platform/events/amqp-bus.ts';
import type { DeliveredMessage, EventMessage } from '../../../src/platform/events/bus.ts';
import { enqueueEvent, routesToCC } from '../../../src/platform/events/outbox.ts';
import { OutboxRelay } from '../../../src/platform/events/relay.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { taskDefined, testService } from '../../helpers/events.ts';
import { amqpUrl, describeAmqp } from '../../helpers/services.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';

const run = randomBytes(4).toString('hex');
const ex = `exchange/taskyard-test-${run}/v1/task-defined`;
const queues: string[] = [];
const exchanges = new Set<string>([ex]);

function queueName(name: string): string {
  const q = `queue/taskyard-test-${run}/${name}`;
  queues.push(q);
  return q;
}

function message(routingKey: string, cc: string[] = [], payload: unknown = { routingKey }): EventMessage {
  return { exchange: ex, routingKey, cc, payload };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeAmqp('AmqpBus against RabbitMQ', () => {
  let bus: AmqpBus;

  beforeAll(async () => {
    bus = await AmqpBus.connect(amqpUrl()!, { redeliveryDelayMs: 10, reconnectMinDelayMs: 50 });
  });

  afterAll(async () => {
    await bus?.close();
    // Leave the shared broker as we found it.
    const conn = await amqp.connect(amqpUrl()!);
    const ch = await conn.createChannel();
    for (const q of queues) {
      await ch.deleteQueue(q);
    }
    for (const e of exchanges) {
      await ch.deleteExchange(e);
    }
    await conn.close();
  });

  it('delivers by primary, route and single-word bindings, with exchange, routing key and routes', async () => {
    const got: Record<string, DeliveredMessage[]> = { primary: [], routes: [], star: [] };
    const consumers = await Promise.all([
      bus.consume({
        queueName: queueName('primary'),
        bindings: [{ exchange: ex, pattern: 'primary.#' }],
        handler: async (m) => void got.primary.push(m),
      }),
      bus.consume({
        queueName: queueName('routes'),
        // Both match the CC'd message; RabbitMQ still puts it in the queue once.
        bindings: [
          { exchange: ex, pattern: 'route.#' },
          { exchange: ex, pattern: 'route.index.*.latest' },
        ],
        handler: async (m) => void got.routes.push(m),
      }),
      bus.consume({
        queueName: queueName('star'),
        bindings: [{ exchange: ex, pattern: '*' }],
        handler: async (m) => void got.star.push(m),
      }),
    ]);
    await bus.publish([
      message('primary.t1._.s._', ['route.index.gecko.latest', 'route.notify.x'], { n: 1 }),
      message('primary.t2._.s._', [], { n: 2 }),
      message('single', [], { n: 3 }),
    ]);
    await vi.waitFor(() => {
      expect(got.primary).toHaveLength(2);
      expect(got.routes).toHaveLength(1);
      expect(got.star).toHaveLength(1);
    });
    expect(got.primary[0]).toEqual({
      exchange: ex,
      routingKey: 'primary.t1._.s._',
      routes: ['index.gecko.latest', 'notify.x'],
      payload: { n: 1 },
      redelivered: false,
    });
    expect(got.primary[1]).toMatchObject({ routingKey: 'primary.t2._.s._', routes: [], payload: { n: 2 } });
    expect(got.routes[0]).toMatchObject({ routingKey: 'primary.t1._.s._', payload: { n: 1 } });
    expect(got.star[0]).toMatchObject({ routingKey: 'single', payload: { n: 3 } });
    await sleep(100);
    expect(got.routes).toHaveLength(1);
    await Promise.all(consumers.map((c) => c.close()));
  });

  it('publishes persistent JSON messages carrying routes in the CC header, as Pulse does', async () => {
    const q = queueName('raw');
    const conn = await amqp.connect(amqpUrl()!);
    try {
      const ch = await conn.createChannel();
      await ch.assertExchange(ex, 'topic', { durable: true });
      await ch.assertQueue(q, { durable: true });
      await ch.bindQueue(q, ex, 'route.#');
      await bus.publish([message('primary.raw', ['route.a.b'], { hello: 'world' })]);
      const raw = await vi.waitFor(async () => {
        const m = await ch.get(q, { noAck: true });
        if (!m) {
          throw new Error('no message yet');
        }
        return m;
      });
      expect(raw.properties.deliveryMode).toBe(2);
      expect(raw.properties.contentType).toBe('application/json');
      expect(raw.properties.headers?.CC).toEqual(['route.a.b']);
      expect(raw.fields.routingKey).toBe('primary.raw');
      expect(JSON.parse(raw.content.toString())).toEqual({ hello: 'world' });
    } finally {
      await conn.close();
    }
  });

  it('redelivers a message whose handler failed, then acknowledges it for good', async () => {
    const seen: boolean[] = [];
    const consumer = await bus.consume({
      queueName: queueName('retry'),
      bindings: [{ exchange: ex, pattern: 'primary.retry' }],
      handler: async (m) => {
        seen.push(m.redelivered);
        if (seen.length === 1) {
          throw new Error('transient');
        }
      },
    });
    await bus.publish([message('primary.retry')]);
    await vi.waitFor(() => expect(seen).toEqual([false, true]));
    await sleep(200);
    expect(seen).toEqual([false, true]);
    await consumer.close();
  });

  it('keeps messages in the durable queue while no consumer is attached', async () => {
    const q = queueName('durable');
    const got: unknown[] = [];
    const first = await bus.consume({
      queueName: q,
      bindings: [{ exchange: ex, pattern: 'primary.durable' }],
      handler: async (m) => void got.push(m.payload),
    });
    await first.close();
    await bus.publish([message('primary.durable', [], { kept: true })]);
    const second = await bus.consume({
      queueName: q,
      bindings: [],
      handler: async (m) => void got.push(m.payload),
    });
    await vi.waitFor(() => expect(got).toEqual([{ kept: true }]));
    await second.close();
  });

  it('binds, unbinds and deletes queues apart from consumers, passing message ids through', async () => {
    const q = queueName('managed');
    const got: DeliveredMessage[] = [];
    await bus.bindQueue(q, [
      { exchange: ex, pattern: 'primary.a' },
      { exchange: ex, pattern: 'primary.b' },
    ]);
    await bus.publish([{ ...message('primary.a'), messageId: 'outbox-1' }, message('primary.b')]);
    await bus.unbindQueue(q, [{ exchange: ex, pattern: 'primary.b' }]);
    // Unbinding what is not bound, or from a missing queue or exchange, is fine.
    await bus.unbindQueue(q, [{ exchange: ex, pattern: 'primary.never' }]);
    await bus.unbindQueue(queueName('missing'), [{ exchange: ex, pattern: '#' }]);
    await bus.unbindQueue(q, [{ exchange: `${ex}-missing`, pattern: '#' }]);
    // Same queue, same publisher: primary.b (now unbound) would arrive before the marker.
    await bus.publish([message('primary.b'), message('primary.a', [], { marker: true })]);
    const consumer = await bus.consume({
      queueName: q,
      bindings: [],
      handler: async (m) => void got.push(m),
    });
    await vi.waitFor(() => expect(got).toHaveLength(3));
    expect(got.map((m) => [m.routingKey, m.messageId])).toEqual([
      ['primary.a', 'outbox-1'],
      ['primary.b', undefined],
      ['primary.a', undefined],
    ]);
    await consumer.close();
    await bus.publish([message('primary.a')]);
    await bus.deleteQueue(q);
    await bus.deleteQueue(q);
    const conn = await amqp.connect(amqpUrl()!);
    try {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      await expect(ch.checkQueue(q)).rejects.toMatchObject({ code: 404 });
    } finally {
      await conn.close();
    }
  });

  it('rejects publishes while the broker is unreachable and resumes consuming after reconnecting', async () => {
    const url = new URL(amqpUrl()!);
    const proxy = await TcpProxy.start(url.hostname, Number(url.port || 5672));
    const flaky = await AmqpBus.connect(proxy.proxiedUrl(amqpUrl()!), { reconnectMinDelayMs: 50 });
    try {
      const got: unknown[] = [];
      await flaky.consume({
        queueName: queueName('reconnect'),
        bindings: [{ exchange: ex, pattern: 'primary.reconnect' }],
        handler: async (m) => void got.push(m.payload),
      });
      await proxy.pause();
      await vi.waitFor(() => expect(flaky.connected).toBe(false));
      await expect(flaky.publish([message('primary.reconnect', [], { n: 'lost' })])).rejects.toThrow(
        /not connected/,
      );
      // Published elsewhere during the outage: the durable queue keeps it for us.
      await bus.publish([message('primary.reconnect', [], { n: 1 })]);
      await proxy.resume();
      await vi.waitFor(() => expect(flaky.connected).toBe(true), { timeout: 10_000 });
      await flaky.publish([message('primary.reconnect', [], { n: 2 })]);
      await vi.waitFor(() => expect(got).toEqual([{ n: 1 }, { n: 2 }]), { timeout: 10_000 });
    } finally {
      await flaky.close();
      await proxy.close();
    }
  });

  it('carries events from a committed transaction through the outbox relay to a consumer', async () => {
    const svc = testService(run);
    let t: TestDatabase | undefined;
    let relay: OutboxRelay | undefined;
    try {
      t = await createTestDatabase();
      const got: DeliveredMessage[] = [];
      const consumer = await bus.consume({
        queueName: queueName('relay'),
        bindings: [{ exchange: ex, pattern: 'route.my.route' }],
        handler: async (m) => void got.push(m),
      });
      relay = new OutboxRelay({ db: t.db, bus });
      await relay.start();
      await t.db.transaction(async (tx) => {
        for (const seq of [1, 2, 3]) {
          await enqueueEvent(
            tx,
            svc,
            taskDefined,
            { taskId: 'tX', seq },
            { taskId: 'tX', schedulerId: 's' },
            routesToCC(['my.route']),
          );
        }
      });
      await vi.waitFor(() => expect(got.map((m) => (m.payload as { seq: number }).seq)).toEqual([1, 2, 3]));
      expect(got[0]).toMatchObject({ exchange: ex, routingKey: 'primary.tX._.s._', routes: ['my.route'] });
      await relay.waitIdle();
      await consumer.close();
    } finally {
      await relay?.stop();
      await t?.drop();
    }
  });
  it('keeps outbox events through a broker outage and publishes them once it is back', async () => {
    const svc = testService(run);
    const url = new URL(amqpUrl()!);
    const proxy = await TcpProxy.start(url.hostname, Number(url.port || 5672));
    const flaky = await AmqpBus.connect(proxy.proxiedUrl(amqpUrl()!), { reconnectMinDelayMs: 50 });
    let t: TestDatabase | undefined;
    let relay: OutboxRelay | undefined;
    try {
      t = await createTestDatabase();
      const got: unknown[] = [];
      const consumer = await bus.consume({
        queueName: queueName('outage'),
        bindings: [{ exchange: ex, pattern: 'primary.tOutage.#' }],
        handler: async (m) => void got.push((m.payload as { seq: number }).seq),
      });
      relay = new OutboxRelay({ db: t.db, bus: flaky, maxBackoffMs: 200 });
      await relay.start();
      await proxy.pause();
      await t.db.transaction(async (tx) => {
        await enqueueEvent(
          tx,
          svc,
          taskDefined,
          { taskId: 'tOutage', seq: 1 },
          { taskId: 'tOutage', schedulerId: 's' },
        );
      });
      await sleep(300);
      const waiting = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM event_outbox');
      expect(waiting.rows[0].n).toBe(1);
      expect(got).toEqual([]);
      await proxy.resume();
      await vi.waitFor(() => expect(got).toEqual([1]), { timeout: 10_000 });
      await relay.waitIdle();
      await consumer.close();
    } finally {
      await relay?.stop();
      await t?.drop();
      await flaky.close();
      await proxy.close();
    }
  });
});
