import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '../../helpers/clients.ts';
import { createHookRole, echoHook, type HooksTestbed, startHooksTestbed } from './helpers.ts';

let tb: HooksTestbed;
beforeAll(async () => {
  tb = await startHooksTestbed();
  await createHookRole(tb);
});
afterAll(async () => tb?.stop());

const EX = 'exchange/taskcluster-queue/v1/task-completed';

/** Creating `def` answers 400 with a message containing `expected`, and no hook is created. */
async function rejectsCreate(hookId: string, def: Record<string, unknown>, expected: string | RegExp) {
  const err = await rejection(tb.hooks().createHook('tests', hookId, def));
  expect(err.statusCode, JSON.stringify(err.body ?? err.message)).toBe(400);
  expect(err.message).toMatch(expected);
  expect((await rejection(tb.hooks().hook('tests', hookId))).statusCode).toBe(404);
}

describe('bad hook definitions get a 400 naming the problem and change nothing', () => {
  it.each([
    [
      'an exchange that is not a Pulse exchange',
      [{ exchange: 'task-completed', routingKeyPattern: '#' }],
      /bindings\[0\]\.exchange "task-completed" is not a Pulse exchange/,
    ],
    ['an empty word in the pattern', [{ exchange: EX, routingKeyPattern: 'route..x' }], /empty word/],
    ['a wildcard inside a word', [{ exchange: EX, routingKeyPattern: 'route.index.*foo' }], /whole words/],
    [
      'a space in the pattern',
      [{ exchange: EX, routingKeyPattern: 'route x' }],
      /printable ASCII without spaces/,
    ],
    [
      'the same binding twice',
      [
        { exchange: EX, routingKeyPattern: '#' },
        { exchange: EX, routingKeyPattern: '#' },
      ],
      /bindings\[1\] repeats/,
    ],
    ['an empty pattern', [{ exchange: EX, routingKeyPattern: '' }], /routingKeyPattern/],
  ])('bindings: %s', async (_what, bindings, expected) => {
    await rejectsCreate('badbinding', echoHook({ bindings }), expected);
  });

  it.each([
    ['words', ['not a cron'], /schedule\[0\] "not a cron"/],
    ['an impossible date', ['0 0 0 31 2 *'], /schedule\[0\]/],
    ['an out-of-range field', ['0 61 * * * *'], /schedule\[0\].*61/],
    ['an empty entry', [''], /schedule\[0\] "": it is empty/],
    ['a repeated entry', ['0 0 * * * *', '0 0 * * * *'], /schedule lists an entry twice/],
  ])('schedule: %s', async (_what, schedule, expected) => {
    await rejectsCreate('badcron', echoHook({ schedule }), expected);
  });

  it.each([
    ['an expression that does not parse', { $eval: '1 +' }, /Invalid task template/],
    ['a misused operator', { $let: { a: 1 } }, /Invalid task template: TemplateError.*\$let/],
    ['an unknown $-operator', { a: { $frobnicate: 1 } }, /Invalid task template/],
  ])('task template: %s', async (_what, task, expected) => {
    await rejectsCreate('badtemplate', echoHook({ task }), expected);
  });

  it('accepts a template whose errors depend on the payload of a fire', async () => {
    const created = await tb
      .hooks()
      .createHook('tests', 'payloaddep', echoHook({ task: { $eval: 'payload.x.y' } }));
    expect(created.task).toEqual({ $eval: 'payload.x.y' });
  });

  it('rejects a triggerSchema that is not a JSON schema, and an owner that is not an email address', async () => {
    await rejectsCreate(
      'badschema',
      echoHook({ triggerSchema: { type: 'nonsense' } }),
      /triggerSchema is not a valid JSON schema/,
    );
    await rejectsCreate(
      'badowner',
      echoHook({ metadata: { name: 'n', description: 'd', owner: 'not-an-email' } }),
      /owner/,
    );
  });

  it('leaves the hook as it was when an update is rejected', async () => {
    const hooks = tb.hooks();
    const original = await hooks.createHook('tests', 'keep', echoHook({ schedule: ['0 0 * * * *'] }));
    for (const bad of [
      echoHook({ schedule: ['nope'] }),
      echoHook({ bindings: [{ exchange: 'nope', routingKeyPattern: '#' }] }),
      echoHook({ task: { $eval: '1 +' } }),
    ]) {
      expect((await rejection(hooks.updateHook('tests', 'keep', bad))).statusCode).toBe(400);
    }
    expect(await hooks.hook('tests', 'keep')).toEqual(original);
  });
});

describe('bad trigger payloads', () => {
  it('answers 400 naming what fails the triggerSchema, and records no fire', async () => {
    const hooks = tb.hooks();
    await hooks.createHook(
      'tests',
      'typed',
      echoHook({
        triggerSchema: {
          type: 'object',
          properties: { count: { type: 'integer' } },
          required: ['count'],
          additionalProperties: false,
        },
      }),
    );
    const err = await rejection(hooks.triggerHook('tests', 'typed', { count: 'many' }));
    expect(err.statusCode).toBe(400);
    expect(err.message).toMatch(/triggerSchema: payload\/count must be integer/);
    const missing = await rejection(hooks.triggerHook('tests', 'typed', {}));
    expect(missing.message).toMatch(/must have required property 'count'/);
    expect((await hooks.listLastFires('tests', 'typed')).lastFires).toEqual([]);
    expect((await hooks.triggerHook('tests', 'typed', { count: 2 })).taskId).toBeTruthy();
  });
});
