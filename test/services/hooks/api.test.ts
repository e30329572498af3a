import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '../../helpers/clients.ts';
import { type HooksTestbed, startHooksTestbed } from './helpers.ts';

let tb: HooksTestbed;
beforeAll(async () => {
  tb = await startHooksTestbed();
  const auth = new taskcluster.Auth({ rootUrl: tb.ty.rootUrl, credentials: tb.ty.root, retries: 0 });
  await auth.createRole('hook-id:tests/*', {
    description: 'test hooks',
    scopes: [
      'queue:create-task:highest:test-prov/*',
      'queue:scheduler-id:test-sched',
      'queue:create-task:project:none',
    ],
  });
});
afterAll(async () => tb?.stop());

const template = {
  $if: "!('skip' in payload)",
  // biome-ignore lint/suspicious/noThenProperty: a JSON-e $if
  then: {
    taskQueueId: 'test-prov/hooked',
    schedulerId: 'test-sched',
    created: { $eval: 'now' },
    deadline: { $fromNow: '1 hour', from: { $eval: 'now' } },
    payload: {
      firedBy: { $eval: 'firedBy' },
      // biome-ignore lint/suspicious/noThenProperty: a JSON-e $if
      value: { $if: "'value' in payload", then: { $eval: 'payload.value' }, else: null },
      taskId: { $eval: 'taskId' },
    },
    metadata: { name: 'hooked', description: 'd', owner: 'o@example.com', source: 'https://example.com' },
  },
  else: null,
};

const hookDef = (over: Record<string, unknown> = {}) => ({
  metadata: { name: 'h', description: 'a hook', owner: 'o@example.com' },
  task: template,
  triggerSchema: {
    type: 'object',
    properties: { value: { type: 'integer' }, skip: { type: 'boolean' } },
    additionalProperties: false,
  },
  ...over,
});

const queue = () => new taskcluster.Queue({ rootUrl: tb.ty.rootUrl, credentials: tb.ty.root, retries: 0 });

describe('hooks CRUD', () => {
  it('creates, reads, lists, updates and removes hooks', async () => {
    const hooks = tb.hooks();
    const created = await hooks.createHook('tests', 'crud', hookDef());
    expect(created).toMatchObject({ hookGroupId: 'tests', hookId: 'crud', schedule: [], bindings: [] });
    expect(created.metadata.emailOnError).toBe(true);
    // the same again is fine; different conflicts
    await hooks.createHook('tests', 'crud', hookDef());
    expect(
      (await rejection(hooks.createHook('tests', 'crud', hookDef({ schedule: ['0 0 * * * *'] })))).statusCode,
    ).toBe(409);
    expect((await hooks.hook('tests', 'crud')).task).toEqual(template);
    expect((await hooks.listHookGroups()).groups).toContain('tests');
    expect((await hooks.listHooks('tests')).hooks.map((h: { hookId: string }) => h.hookId)).toContain('crud');
    const updated = await hooks.updateHook(
      'tests',
      'crud',
      hookDef({ metadata: { name: 'h2', description: 'x', owner: 'o@example.com' } }),
    );
    expect(updated.metadata.name).toBe('h2');
    expect((await rejection(hooks.updateHook('tests', 'nope', hookDef()))).statusCode).toBe(404);
    expect((await hooks.getHookStatus('tests', 'crud')).lastFire).toEqual({ result: 'no-fire' });
    await hooks.removeHook('tests', 'crud');
    expect((await rejection(hooks.hook('tests', 'crud'))).statusCode).toBe(404);
  });

  it('rejects an invalid cron schedule, naming it', async () => {
    const err = await rejection(
      tb.hooks().createHook('tests', 'badcron', hookDef({ schedule: ['not a cron'] })),
    );
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('not a cron');
  });

  it('needs hooks:modify-hook and assume:hook-id', async () => {
    const creds = { clientId: 'static/taskcluster/hooks', accessToken: 'wrong' };
    expect((await rejection(tb.hooks(creds).createHook('tests', 'x', hookDef()))).statusCode).toBe(401);
  });
});

describe('triggering', () => {
  it('renders the template with the JSON-e context and creates the task', async () => {
    const hooks = tb.hooks();
    await hooks.createHook('tests', 'trig', hookDef());
    const res = await hooks.triggerHook('tests', 'trig', { value: 42 });
    expect(res.taskId).toBeTruthy();
    expect(res.status.taskId).toBe(res.taskId);
    const task = await queue().task(res.taskId);
    expect(task.payload).toEqual({ firedBy: 'triggerHook', value: 42, taskId: res.taskId });
    const status = await hooks.getHookStatus('tests', 'trig');
    expect(status.lastFire).toMatchObject({ result: 'success', taskId: res.taskId });
  });

  it('validates the payload against triggerSchema', async () => {
    const hooks = tb.hooks();
    await hooks.createHook('tests', 'schema', hookDef());
    const err = await rejection(hooks.triggerHook('tests', 'schema', { value: 'str' }));
    expect(err.statusCode).toBe(400);
  });

  it('creates nothing when the template renders to null', async () => {
    const hooks = tb.hooks();
    await hooks.createHook('tests', 'null', hookDef());
    expect(await hooks.triggerHook('tests', 'null', { skip: true })).toEqual({});
    expect((await hooks.listLastFires('tests', 'null')).lastFires).toEqual([]);
  });

  it('records template and task-creation errors in last fires', async () => {
    const hooks = tb.hooks();
    await hooks.createHook('tests', 'broken', hookDef({ task: { $eval: 'nosuchvar' } }));
    expect((await rejection(hooks.triggerHook('tests', 'broken', {}))).statusCode).toBe(400);
    // a role without the scopes to create the task
    await hooks.createHook('other', 'noscopes', hookDef());
    expect((await rejection(hooks.triggerHook('other', 'noscopes', { value: 1 }))).statusCode).toBe(400);
    const fires = (await hooks.listLastFires('other', 'noscopes')).lastFires;
    expect(fires).toHaveLength(1);
    expect(fires[0]).toMatchObject({ result: 'error', firedBy: 'triggerHook' });
    expect(fires[0].error).toMatch(/createTask failed \(403\)/);
    const broken = (await hooks.listLastFires('tests', 'broken')).lastFires;
    expect(broken[0].result).toBe('error');
    expect((await hooks.getHookStatus('other', 'noscopes')).lastFire.result).toBe('error');
  });

  it('triggers with a token, and the reset token replaces it', async () => {
    const hooks = tb.hooks();
    await hooks.createHook('tests', 'tok', hookDef());
    const { token } = await hooks.getTriggerToken('tests', 'tok');
    expect((await hooks.getTriggerToken('tests', 'tok')).token).toBe(token);
    const anonHooks = new taskcluster.Hooks({ rootUrl: tb.hooksRootUrl, retries: 0 });
    const res = await anonHooks.triggerHookWithToken('tests', 'tok', token, { value: 7 });
    expect((await queue().task(res.taskId)).payload.firedBy).toBe('triggerHookWithToken');
    const { token: token2 } = await hooks.resetTriggerToken('tests', 'tok');
    expect(token2).not.toBe(token);
    expect(
      (await rejection(anonHooks.triggerHookWithToken('tests', 'tok', token, { value: 7 }))).statusCode,
    ).toBe(403);
    const fires = await hooks.listLastFires('tests', 'tok', { limit: 1 });
    expect(fires.lastFires).toHaveLength(1);
    expect(fires.continuationToken).toBeUndefined();
  });

  it('pages last fires newest first', async () => {
    const hooks = tb.hooks();
    await hooks.createHook('tests', 'pages', hookDef());
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await hooks.triggerHook('tests', 'pages', { value: i })).taskId);
    const p1 = await hooks.listLastFires('tests', 'pages', { limit: 2 });
    expect(p1.lastFires.map((f: { taskId: string }) => f.taskId)).toEqual([ids[2], ids[1]]);
    const p2 = await hooks.listLastFires('tests', 'pages', {
      limit: 2,
      continuationToken: p1.continuationToken,
    });
    expect(p2.lastFires.map((f: { taskId: string }) => f.taskId)).toEqual([ids[0]]);
  });
});

describe('schedules', () => {
  it('fires once per scheduled time with the precomputed taskId', async () => {
    const hooks = tb.hooks();
    await hooks.createHook('tests', 'cron', hookDef({ schedule: ['0 0 * * * *'] }));
    const status = await hooks.getHookStatus('tests', 'cron');
    const next = new Date(status.nextScheduledDate);
    expect(next.getTime()).toBeGreaterThan(tb.ty.clock.now.getTime());
    expect(await tb.service.runSchedulerPass()).toBe(0);
    const jump = next.getTime() - tb.ty.clock.now.getTime() + 1000;
    tb.ty.clock.advance(jump);
    try {
      expect(await tb.service.runSchedulerPass()).toBe(1);
      expect(await tb.service.runSchedulerPass()).toBe(0);
    } finally {
      // The official client signs with the real clock; the server allows 15 minutes of skew.
      tb.ty.clock.advance(-jump);
    }
    const fires = (await hooks.listLastFires('tests', 'cron')).lastFires;
    expect(fires).toHaveLength(1);
    expect(fires[0]).toMatchObject({ firedBy: 'schedule', result: 'success' });
    const after = await hooks.getHookStatus('tests', 'cron');
    expect(new Date(after.nextScheduledDate).getTime()).toBe(next.getTime() + 3600e3);
  });
});
