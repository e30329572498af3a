import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DeliveredMessage, EventMessage } from '../../../src/platform/events/bus.ts';
import { InProcessBus } from '../../../src/platform/events/in-process-bus.ts';

let bus: InProcessBus;

afterEach(async () => {
  await bus?.close();
});

function msg(routingKey: string, cc: string[] = [], payload: unknown = { routingKey }): EventMessage {
  return { exchange: 'exchange/test/v1/thing', routingKey, cc, payload };
}

describe('InProcessBus', () => {
  it('routes by `*` and `#` patterns on the routing key or any CC key, once per queue', async () => {
    bus = new InProcessBus();
    const got: Record<string, DeliveredMessage[]> = { primary: [], routes: [], star: [] };
    const ex = 'exchange/test/v1/thing';
    await bus.consume({
      queueName: 'primary',
      bindings: [{ exchange: ex, pattern: 'primary.#' }],
      handler: async (m) => void got.primary.push(m),
    });
    await bus.consume({
      queueName: 'routes',
      // Both bindings match the second message: it must still arrive once.
      bindings: [
        { exchange: ex, pattern: 'route.index.#' },
        { exchange: ex, pattern: 'route.*.x' },
      ],
      handler: async (m) => void got.routes.push(m),
    });
    await bus.consume({
      queueName: 'star',
      bindings: [{ exchange: ex, pattern: '*' }],
      handler: async (m) => void got.star.push(m),
    });
    await bus.publish([
      msg('primary.t1._'),
      msg('primary.t2._', ['route.index.x', 'route.notify.x']),
      msg('single'),
    ]);
    await bus.waitIdle();
    expect(got.primary.map((m) => m.routingKey)).toEqual(['primary.t1._', 'primary.t2._']);
    expect(got.routes).toHaveLength(1);
    expect(got.routes[0]).toMatchObject({ routingKey: 'primary.t2._', routes: ['index.x', 'notify.x'] });
    expect(got.star.map((m) => m.routingKey)).toEqual(['single']);
  });

  it('redelivers a message whose handler failed, marked as redelivered', async () => {
    bus = new InProcessBus({ redeliveryDelayMs: 5 });
    const seen: boolean[] = [];
    await bus.consume({
      queueName: 'q',
      bindings: [{ exchange: 'exchange/test/v1/thing', pattern: '#' }],
      handler: async (m) => {
        seen.push(m.redelivered);
        if (seen.length < 3) {
          throw new Error('not yet');
        }
      },
    });
    await bus.publish([msg('k')]);
    await vi.waitFor(() => expect(seen).toEqual([false, true, true]));
    await bus.waitIdle();
    expect(seen).toHaveLength(3);
  });

  it('delivers a payload given as JSON text (as the relay hands it over) parsed, a copy per queue', async () => {
    bus = new InProcessBus();
    const got: DeliveredMessage[] = [];
    for (const queueName of ['a', 'b']) {
      await bus.consume({
        queueName,
        bindings: [{ exchange: 'exchange/test/v1/thing', pattern: '#' }],
        handler: async (m) => {
          got.push(m);
          (m.payload as { n: number[] }).n.push(0);
        },
      });
    }
    await bus.publish([
      {
        exchange: 'exchange/test/v1/thing',
        routingKey: 'k',
        cc: ['route.r'],
        payloadJson: '{"n":[1]}',
        messageId: 'm1',
      },
    ]);
    await bus.waitIdle();
    expect(got).toHaveLength(2);
    for (const m of got) {
      expect(m).toMatchObject({ routingKey: 'k', routes: ['r'], messageId: 'm1', payload: { n: [1, 0] } });
    }
  });

  it('keeps messages for a queue while it has no consumer, like a durable queue', async () => {
    bus = new InProcessBus();
    const got: string[] = [];
    const first = await bus.consume({
      queueName: 'durable',
      bindings: [{ exchange: 'exchange/test/v1/thing', pattern: '#' }],
      handler: async (m) => void got.push(m.routingKey),
    });
    await first.close();
    await bus.publish([msg('while-away')]);
    expect(got).toEqual([]);
    await bus.consume({
      queueName: 'durable',
      bindings: [],
      handler: async (m) => void got.push(m.routingKey),
    });
    await vi.waitFor(() => expect(got).toEqual(['while-away']));
  });

  it('never runs more handlers at once than the prefetch allows', async () => {
    bus = new InProcessBus();
    let running = 0;
    let maxRunning = 0;
    await bus.consume({
      queueName: 'limited',
      prefetch: 2,
      bindings: [{ exchange: 'exchange/test/v1/thing', pattern: '#' }],
      handler: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      },
    });
    await bus.publish(Array.from({ length: 10 }, (_, i) => msg(`k${i}`)));
    await bus.waitIdle();
    expect(maxRunning).toBe(2);
  });
});

describe('InProcessBus queues managed apart from consumers', () => {
  it('adds and removes bindings of a queue, keeping messages for the bindings it still has', async () => {
    bus = new InProcessBus();
    const got: string[] = [];
    const ex = 'exchange/test/v1/thing';
    await bus.bindQueue('managed', [
      { exchange: ex, pattern: 'a.#' },
      { exchange: ex, pattern: 'b.#' },
    ]);
    await bus.publish([msg('a.1'), msg('b.1'), msg('c.1')]);
    await bus.unbindQueue('managed', [{ exchange: ex, pattern: 'b.#' }]);
    await bus.unbindQueue('managed', [{ exchange: ex, pattern: 'never.bound' }]);
    await bus.unbindQueue('no-such-queue', [{ exchange: ex, pattern: '#' }]);
    await bus.publish([msg('b.2'), msg('a.2')]);
    await bus.consume({
      queueName: 'managed',
      bindings: [],
      handler: async (m) => void got.push(m.routingKey),
    });
    await vi.waitFor(() => expect(got).toEqual(['a.1', 'b.1', 'a.2']));
  });

  it('deletes a queue with its bindings and messages, stopping its consumer', async () => {
    bus = new InProcessBus();
    const got: string[] = [];
    const ex = 'exchange/test/v1/thing';
    await bus.bindQueue('doomed', [{ exchange: ex, pattern: '#' }]);
    await bus.publish([msg('before')]);
    await bus.deleteQueue('doomed');
    await bus.deleteQueue('doomed');
    await bus.publish([msg('after-delete')]);
    // A new queue of the same name starts empty and unbound.
    await bus.consume({
      queueName: 'doomed',
      bindings: [],
      handler: async (m) => void got.push(m.routingKey),
    });
    await bus.bindQueue('doomed', [{ exchange: ex, pattern: 'marker' }]);
    await bus.publish([msg('marker')]);
    await vi.waitFor(() => expect(got).toEqual(['marker']));
  });

  it('passes the message id through to consumers', async () => {
    bus = new InProcessBus();
    const got: DeliveredMessage[] = [];
    await bus.consume({
      queueName: 'ids',
      bindings: [{ exchange: 'exchange/test/v1/thing', pattern: '#' }],
      handler: async (m) => void got.push(m),
    });
    await bus.publish([{ ...msg('k'), messageId: 'outbox-7' }, msg('no-id')]);
    await vi.waitFor(() => expect(got.map((m) => m.messageId)).toEqual(['outbox-7', undefined]));
  });
});
