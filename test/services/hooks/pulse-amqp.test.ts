import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AmqpBus, type EventMessage } from '../../../src/platform/events/index.ts';
import { hookQueueName } from '../../../src/services/hooks/index.ts';
import { amqpUrl, describeAmqp } from '../../helpers/services.ts';
import { waitFor } from '../../helpers/wait.ts';
import { createHookRole, echoHook, type HooksTestbed, startHooksTestbed } from './helpers.ts';

const run = randomBytes(4).toString('hex');
const GROUP = `amqp${run}`;
const EX = `exchange/taskyard-test-${run}/v1/thing`;

const msg = (routingKey: string, payload: unknown, messageId?: string): EventMessage => ({
  exchange: EX,
  routingKey,
  cc: [],
  payload,
  ...(messageId ? { messageId } : {}),
});

describeAmqp('hooks pulse bindings on RabbitMQ', () => {
  let tb: HooksTestbed;
  let busA: AmqpBus;
  let busB: AmqpBus;

  beforeAll(async () => {
    busA = await AmqpBus.connect(amqpUrl()!, { redeliveryDelayMs: 10 });
    busB = await AmqpBus.connect(amqpUrl()!, { redeliveryDelayMs: 10 });
    tb = await startHooksTestbed({ bus: busA, backgroundLoops: true });
    await createHookRole(tb, `hook-id:${GROUP}/*`);
  });

  afterAll(async () => {
    await tb?.stop();
    await busA?.close();
    await busB?.close();
    const conn = await amqp.connect(amqpUrl()!);
    const ch = await conn.createChannel();
    for (const id of ['fires', 'rebind']) await ch.deleteQueue(hookQueueName(GROUP, id));
    await ch.deleteExchange(EX);
    await conn.close();
  });

  async function lastFires(hookId: string) {
    const res = await tb.ty.testDb.db.query<{ taskId: string; result: string }>(
      'select task_id as "taskId", result from hooks_last_fires where hook_group_id = $1 and hook_id = $2 order by id',
      [GROUP, hookId],
    );
    return res.rows;
  }

  const fires = (hookId: string, n: number) =>
    waitFor(async () => {
      const rows = await lastFires(hookId);
      return rows.length >= n ? rows : undefined;
    }, `${n} fires of ${hookId}`);

  async function queueExists(name: string): Promise<boolean> {
    const conn = await amqp.connect(amqpUrl()!);
    try {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      await ch.checkQueue(name);
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return false;
      throw err;
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  it('fires each message once with two processes consuming the hook queue, redeliveries included', async () => {
    const other = await tb.addService({ bus: busB, backgroundLoops: true });
    await tb
      .hooks()
      .createHook(GROUP, 'fires', echoHook({ bindings: [{ exchange: EX, routingKeyPattern: 'primary.#' }] }));
    await tb.service.reconcileBindings();
    await other.reconcileBindings();
    expect(await queueExists(hookQueueName(GROUP, 'fires'))).toBe(true);
    const messages = Array.from({ length: 8 }, (_, i) => msg(`primary.${i}`, { i }, `${run}-m${i}`));
    // Each message published twice (a relay retry after a lost confirm looks like this).
    await busA.publish([...messages, ...messages, msg('secondary.x', { i: 99 }, `${run}-other`)]);
    const rows = await fires('fires', 8);
    const payloads = await Promise.all(rows.map(async (r) => (await tb.queue().task(r.taskId)).payload));
    expect(payloads.map((p: { payload: { i: number } }) => p.payload.i).sort()).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7,
    ]);
    expect(payloads.every((p: { firedBy: string }) => p.firedBy === 'pulseMessage')).toBe(true);
    // A marker published last arrives after everything before it on this queue.
    await busA.publish([msg('primary.marker', { i: 100 }, `${run}-marker`)]);
    await fires('fires', 9);
    expect(await lastFires('fires')).toHaveLength(9);
    await other.stop();
  });

  it('unbinds removed bindings on the broker and deletes the queue with the hook', async () => {
    const hooks = tb.hooks();
    await hooks.createHook(
      GROUP,
      'rebind',
      echoHook({ bindings: [{ exchange: EX, routingKeyPattern: 'old' }] }),
    );
    await tb.service.reconcileBindings();
    await hooks.updateHook(
      GROUP,
      'rebind',
      echoHook({ bindings: [{ exchange: EX, routingKeyPattern: 'new' }] }),
    );
    await tb.service.reconcileBindings();
    await busA.publish([
      msg('old', { which: 'old' }, `${run}-r1`),
      msg('new', { which: 'new' }, `${run}-r2`),
    ]);
    const [fire] = await fires('rebind', 1);
    expect((await tb.queue().task(fire.taskId)).payload.payload).toEqual({ which: 'new' });
    await hooks.removeHook(GROUP, 'rebind');
    await tb.service.reconcileBindings();
    expect(await queueExists(hookQueueName(GROUP, 'rebind'))).toBe(false);
    expect(await lastFires('rebind')).toHaveLength(0); // removed with the hook
  });
});
