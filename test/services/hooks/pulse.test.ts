import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveredMessage, EventMessage, InProcessBus } from '../../../src/platform/events/index.ts';
import { hookQueueName } from '../../../src/services/hooks/index.ts';
import { waitFor } from '../../helpers/wait.ts';
import { createHookRole, echoHook, type HooksTestbed, startHooksTestbed } from './helpers.ts';

let tb: HooksTestbed;
beforeAll(async () => {
  tb = await startHooksTestbed({ backgroundLoops: true });
  await createHookRole(tb);
});
afterAll(async () => tb?.stop());

const EX = 'exchange/taskyard-test/v1/thing';
const msg = (routingKey: string, payload: unknown, messageId?: string, cc: string[] = []): EventMessage => ({
  exchange: EX,
  routingKey,
  cc,
  payload,
  ...(messageId ? { messageId } : {}),
});

async function lastFires(hookId: string) {
  const res = await tb.ty.testDb.db.query<{ firedBy: string; taskId: string; result: string; error: string }>(
    `select fired_by as "firedBy", task_id as "taskId", result, error from hooks_last_fires
     where hook_group_id = 'tests' and hook_id = $1 order by id`,
    [hookId],
  );
  return res.rows;
}

const fires = (hookId: string, n: number) =>
  waitFor(async () => {
    const rows = await lastFires(hookId);
    return rows.length >= n ? rows : undefined;
  }, `${n} fires of ${hookId}`);

async function queueRow(hookId: string) {
  const res = await tb.ty.testDb.db.query<{ queueName: string; bindings: unknown }>(
    `select queue_name as "queueName", bindings from hooks_queues where hook_group_id = 'tests' and hook_id = $1`,
    [hookId],
  );
  return res.rows[0];
}

const bus = () => tb.ty.bus as InProcessBus;

describe('pulse bindings', () => {
  it('fires the hook on each matching message, with the message payload in the JSON-e context', async () => {
    const hooks = tb.hooks();
    await hooks.createHook(
      'tests',
      'pulse',
      echoHook({
        bindings: [
          { exchange: EX, routingKeyPattern: 'primary.*.done' },
          { exchange: EX, routingKeyPattern: 'route.hooked.#' },
        ],
      }),
    );
    await tb.service.reconcileBindings();
    expect(await queueRow('pulse')).toEqual({
      queueName: 'queue/taskcluster-hooks/tests/pulse',
      bindings: [
        { exchange: EX, routingKeyPattern: 'primary.*.done' },
        { exchange: EX, routingKeyPattern: 'route.hooked.#' },
      ],
    });
    await bus().publish([msg('primary.a.done', { n: 1 }, 'm1'), msg('primary.a.other', { n: 2 }, 'm2')]);
    const [fire] = await fires('pulse', 1);
    expect(fire).toMatchObject({ firedBy: 'pulseMessage', result: 'success' });
    const task = await tb.queue().task(fire.taskId);
    expect(task.payload).toEqual({ firedBy: 'pulseMessage', payload: { n: 1 }, taskId: fire.taskId });
    // Without a taskGroupId in the template the task starts its own group, as upstream.
    expect(task.taskGroupId).toBe(fire.taskId);
    // A CC route matches too.
    await bus().publish([msg('other', { n: 3 }, 'm3', ['route.hooked.x'])]);
    const all = await fires('pulse', 2);
    expect((await tb.queue().task(all[1].taskId)).payload.payload).toEqual({ n: 3 });
    await bus().waitIdle();
    expect(await lastFires('pulse')).toHaveLength(2);
  });

  it('fires once for a message delivered twice (same message id, or same content without one)', async () => {
    const hooks = tb.hooks();
    await hooks.createHook(
      'tests',
      'dedupe',
      echoHook({ bindings: [{ exchange: EX, routingKeyPattern: 'dedupe' }] }),
    );
    await tb.service.reconcileBindings();
    await bus().publish([msg('dedupe', { n: 1 }, 'dup-1'), msg('dedupe', { n: 1 }, 'dup-1')]);
    await bus().publish([msg('dedupe', { n: 2 }), msg('dedupe', { n: 2 })]);
    await bus().publish([msg('dedupe', { n: 1 }, 'dup-2')]);
    const rows = await fires('dedupe', 3);
    await bus().waitIdle();
    expect(await lastFires('dedupe')).toHaveLength(3);
    const payloads = await Promise.all(
      rows.map(async (r) => (await tb.queue().task(r.taskId)).payload.payload),
    );
    expect(payloads.map((p: { n: number }) => p.n).sort()).toEqual([1, 1, 2]);
  });

  it("drops messages whose payload fails the hook's triggerSchema", async () => {
    const hooks = tb.hooks();
    await hooks.createHook(
      'tests',
      'strict',
      echoHook({
        bindings: [{ exchange: EX, routingKeyPattern: 'strict' }],
        triggerSchema: { type: 'object', properties: { ok: { const: true } }, required: ['ok'] },
      }),
    );
    await tb.service.reconcileBindings();
    await bus().publish([msg('strict', { ok: false }, 's1'), msg('strict', { ok: true }, 's2')]);
    const [fire] = await fires('strict', 1);
    expect((await tb.queue().task(fire.taskId)).payload.payload).toEqual({ ok: true });
    await bus().waitIdle();
    expect(await lastFires('strict')).toHaveLength(1);
  });

  it('rebinds when the bindings change, and deletes the queue when they are gone', async () => {
    const hooks = tb.hooks();
    await hooks.createHook(
      'tests',
      'rebind',
      echoHook({ bindings: [{ exchange: EX, routingKeyPattern: 'old' }] }),
    );
    await tb.service.reconcileBindings();
    await hooks.updateHook(
      'tests',
      'rebind',
      echoHook({ bindings: [{ exchange: EX, routingKeyPattern: 'new' }] }),
    );
    // The update's NOTIFY starts a reconciliation; this one runs after it.
    await tb.service.reconcileBindings();
    expect((await queueRow('rebind'))?.bindings).toEqual([{ exchange: EX, routingKeyPattern: 'new' }]);
    await bus().publish([msg('old', { which: 'old' }, 'r1'), msg('new', { which: 'new' }, 'r2')]);
    const [fire] = await fires('rebind', 1);
    expect((await tb.queue().task(fire.taskId)).payload.payload).toEqual({ which: 'new' });
    await bus().waitIdle();
    expect(await lastFires('rebind')).toHaveLength(1);
    // An update without bindings keeps them (as upstream); an empty list removes them.
    const kept = await hooks.updateHook('tests', 'rebind', { ...echoHook(), bindings: undefined });
    expect(kept.bindings).toEqual([{ exchange: EX, routingKeyPattern: 'new' }]);
    await hooks.updateHook('tests', 'rebind', echoHook({ bindings: [] }));
    await tb.service.reconcileBindings();
    expect(await queueRow('rebind')).toBeUndefined();
    // A message now reaches no queue of this hook.
    const seen: DeliveredMessage[] = [];
    await bus().consume({
      queueName: 'test-observer-rebind',
      bindings: [{ exchange: EX, pattern: 'new' }],
      handler: async (m) => void seen.push(m),
    });
    await bus().publish([msg('new', { which: 'late' }, 'r3')]);
    await waitFor(async () => (seen.length > 0 ? true : undefined), 'the observer');
    await bus().waitIdle();
    expect(await lastFires('rebind')).toHaveLength(1);
  });

  it('deletes the queue with the hook, and picks up hooks changed by another process', async () => {
    const hooks = tb.hooks();
    await hooks.createHook(
      'tests',
      'gone',
      echoHook({ bindings: [{ exchange: EX, routingKeyPattern: 'gone' }] }),
    );
    await tb.service.reconcileBindings();
    expect(await queueRow('gone')).toBeDefined();
    await hooks.removeHook('tests', 'gone');
    await tb.service.reconcileBindings();
    expect(await queueRow('gone')).toBeUndefined();
    // A row written by another process (no API call here): the periodic or notified pass finds it.
    await tb.ty.testDb.db.query(
      `insert into hooks (hook_group_id, hook_id, metadata, task, bindings, schedule, trigger_schema,
         trigger_token, next_scheduled_date, next_task_id)
       values ('tests', 'elsewhere', $1, $2, $3, '[]', '{"type":"object"}', 'tok', null, 'x')`,
      [
        JSON.stringify(echoHook().metadata),
        JSON.stringify(echoHook().task),
        JSON.stringify([{ exchange: EX, routingKeyPattern: 'elsewhere' }]),
      ],
    );
    await tb.ty.testDb.db.query(`select pg_notify('taskyard_hooks_changed', '')`);
    await waitFor(async () => queueRow('elsewhere'), 'the notified reconciliation');
    await bus().publish([msg('elsewhere', { from: 'elsewhere' }, 'e1')]);
    const [fire] = await fires('elsewhere', 1);
    expect(fire.result).toBe('success');
    expect(hookQueueName('tests', 'elsewhere')).toBe('queue/taskcluster-hooks/tests/elsewhere');
    expect(hookQueueName('g', 'x'.repeat(300))).toMatch(/^queue\/taskcluster-hooks\/sha256-[0-9a-f]{64}$/);
  });
});

describe('hook exchanges', () => {
  it('publishes hook-created, hook-updated and hook-deleted with the hook ids, through the outbox', async () => {
    const seen: DeliveredMessage[] = [];
    await bus().consume({
      queueName: 'test-hook-exchanges',
      bindings: ['created', 'updated', 'deleted'].map((v) => ({
        exchange: `exchange/taskcluster-hooks/v1/hook-${v}`,
        pattern: '#',
      })),
      handler: async (m) => void seen.push(m),
    });
    const hooks = tb.hooks();
    await hooks.createHook('tests', 'announced', echoHook());
    await hooks.createHook('tests', 'announced', echoHook()); // the same again changes nothing
    await hooks.updateHook('tests', 'announced', echoHook({ schedule: ['0 0 * * * *'] }));
    await hooks.removeHook('tests', 'announced');
    await hooks.removeHook('tests', 'announced'); // already gone
    const got = await waitFor(async () => (seen.length >= 3 ? seen : undefined), 'three hook events');
    await bus().waitIdle();
    expect(seen.map((m) => [m.exchange, m.routingKey, m.payload])).toEqual(
      ['created', 'updated', 'deleted'].map((v) => [
        `exchange/taskcluster-hooks/v1/hook-${v}`,
        '_',
        { hookGroupId: 'tests', hookId: 'announced' },
      ]),
    );
    expect(got).toHaveLength(3);
  });
});
