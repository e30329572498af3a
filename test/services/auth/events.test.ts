import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmqpBus, type DeliveredMessage } from '../../../src/platform/events/index.ts';
import { authClient, inAnHour } from '../../helpers/clients.ts';
import { amqpUrl, describeAmqp } from '../../helpers/services.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

async function waitFor<T>(get: () => T | undefined, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('auth events on the in-process bus', () => {
  let ty: TestTaskyard;
  const seen: DeliveredMessage[] = [];
  beforeAll(async () => {
    ty = await startTestTaskyard();
    await ty.bus.consume({
      queueName: 'test-auth-events',
      bindings: [
        { exchange: 'exchange/taskcluster-auth/v1/client-created', pattern: '#' },
        { exchange: 'exchange/taskcluster-auth/v1/client-updated', pattern: '#' },
        { exchange: 'exchange/taskcluster-auth/v1/client-deleted', pattern: '#' },
        { exchange: 'exchange/taskcluster-auth/v1/role-created', pattern: '#' },
        { exchange: 'exchange/taskcluster-auth/v1/role-deleted', pattern: '#' },
      ],
      handler: async (msg) => {
        seen.push(msg);
      },
    });
  });
  afterAll(async () => ty?.stop());

  it('publishes one event per change, with Taskcluster’s exchange names, routing key and body', async () => {
    const root = authClient(ty, ty.root);
    await root.createClient('ev/one', { expires: inAnHour(), description: 'x' });
    await root.disableClient('ev/one');
    await root.deleteClient('ev/one');
    await root.createRole('ev-role', { description: 'x', scopes: [] });
    await root.deleteRole('ev-role');
    await waitFor(() => (seen.length >= 5 ? true : undefined));
    expect(
      seen.map((m) => [m.exchange.replace('exchange/taskcluster-auth/v1/', ''), m.routingKey, m.payload]),
    ).toEqual([
      ['client-created', '_', { version: 1, clientId: 'ev/one' }],
      ['client-updated', '_', { version: 1, clientId: 'ev/one' }],
      ['client-deleted', '_', { version: 1, clientId: 'ev/one' }],
      ['role-created', '_', { version: 1, roleId: 'ev-role' }],
      ['role-deleted', '_', { version: 1, roleId: 'ev-role' }],
    ]);
  });

  it('publishes nothing for a refused change', async () => {
    const before = seen.length;
    const root = authClient(ty, ty.root);
    await root.createClient('ev/two', { expires: inAnHour(), description: 'x' }).catch(() => undefined);
    await root
      .createClient('ev/two', { expires: inAnHour(), description: 'different' })
      .catch(() => undefined);
    await ty.taskyard.relay.drainOnce();
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.length).toBe(before + 1);
  });

  it('serves the exchanges reference', async () => {
    const ref = (await (await fetch(`${ty.rootUrl}/references/auth/v1/exchanges.json`)).json()) as {
      exchangePrefix: string;
      entries: Array<{ exchange: string; schema: string }>;
    };
    expect(ref.exchangePrefix).toBe('exchange/taskcluster-auth/v1/');
    expect(ref.entries.map((e) => e.exchange)).toEqual([
      'client-created',
      'client-updated',
      'client-deleted',
      'role-created',
      'role-updated',
      'role-deleted',
    ]);
    const schema = await fetch(`${ty.rootUrl}/schemas/auth/${ref.entries[0].schema.replace(/#$/, '')}`);
    expect(schema.status).toBe(200);
  });
});

describeAmqp('auth events on RabbitMQ', () => {
  let ty: TestTaskyard;
  let bus: AmqpBus;
  let conn: amqp.ChannelModel;
  beforeAll(async () => {
    bus = await AmqpBus.connect(amqpUrl()!);
    // Not notify or index: their durable queues on this broker belong to their own AMQP suites.
    ty = await startTestTaskyard({ bus, services: ['auth'] });
    conn = await amqp.connect(amqpUrl()!);
  });
  afterAll(async () => {
    await ty?.stop();
    await bus?.close();
    await conn?.close();
  });

  it('delivers client-created to a plain AMQP consumer bound with #', async () => {
    const ch = await conn.createChannel();
    const exchange = 'exchange/taskcluster-auth/v1/client-created';
    await ch.assertExchange(exchange, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, exchange, '#');
    const got: amqp.ConsumeMessage[] = [];
    await ch.consume(queue, (m) => m && got.push(m), { noAck: true });
    await authClient(ty, ty.root).createClient('amqp/one', { expires: inAnHour(), description: 'x' });
    const msg = await waitFor(() => got[0]);
    expect(msg.fields.routingKey).toBe('_');
    expect(msg.properties.contentType).toBe('application/json');
    expect(JSON.parse(msg.content.toString())).toEqual({ version: 1, clientId: 'amqp/one' });
    await ch.close();
  });
});
