import { randomBytes } from 'node:crypto';
import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClient, rejection } from '../../helpers/clients.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import { fromClock, secretCount, secretsClient, sendRaw } from './helpers.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
});
afterAll(async () => ty?.stop());

const inADay = () => fromClock(ty, 86400e3);
/** A value no other test uses, to look for in answers and rows. */
const uniqueValue = () => `hunter2-${randomBytes(8).toString('hex')}`;

describe('reference', () => {
  it("publishes the official client's secrets endpoints with the same routes, arguments, scopes and schemas", async () => {
    const ours = (await (await fetch(`${ty.rootUrl}/references/secrets/v1/api.json`)).json()) as {
      entries: Record<string, unknown>[];
    };
    const { default: apis } = await import('taskcluster-client/src/apis.js');
    const pick = (e: Record<string, unknown>) => ({
      method: e.method,
      route: e.route,
      args: e.args,
      query: e.query,
      scopes: e.scopes,
      input: e.input,
      output: e.output,
    });
    const byName = new Map(ours.entries.map((e: Record<string, unknown>) => [e.name, e]));
    const own = apis.Secrets.reference.entries.filter(
      (e: { category: string }) => e.category === 'Secrets Service',
    );
    expect(own.map((e: { name: string }) => e.name).sort()).toEqual(['get', 'list', 'remove', 'set']);
    for (const entry of own) {
      const mine = byName.get(entry.name) as Record<string, unknown> | undefined;
      expect(mine, entry.name).toBeDefined();
      expect(pick(mine!), entry.name).toEqual(pick(entry));
    }
    for (const schema of ['secret', 'secret-list']) {
      expect((await fetch(`${ty.rootUrl}/schemas/secrets/v1/${schema}.json`)).status).toBe(200);
    }
  });
});

describe('set, get, list and remove', () => {
  it('stores a secret, reads it back, replaces it and removes it through the official client', async () => {
    const secrets = secretsClient(ty);
    const expires = inADay();
    const value = { password: uniqueValue(), nested: { list: [1, 'two', null, true] } };
    expect(await secrets.set('project/app/db', { secret: value, expires })).toEqual({});
    const got = await secrets.get('project/app/db');
    expect(got.secret).toEqual(value);
    expect(new Date(got.expires).toJSON()).toBe(expires);

    const later = fromClock(ty, 2 * 86400e3);
    await secrets.set('project/app/db', { secret: { password: 'rotated' }, expires: later });
    const replaced = await secrets.get('project/app/db');
    expect(replaced.secret).toEqual({ password: 'rotated' });
    expect(new Date(replaced.expires).toJSON()).toBe(later);
    expect((await secrets.list()).secrets).toContain('project/app/db');

    expect(await secrets.remove('project/app/db')).toEqual({});
    const gone = await rejection(secrets.get('project/app/db'));
    expect(gone.statusCode).toBe(404);
    expect(gone.code).toBe('ResourceNotFound');
    expect(gone.message).toMatch(/^Secret not found/);
    expect((await secrets.list()).secrets).not.toContain('project/app/db');
  });

  it('answers 404 for a secret that was never set, and removing one succeeds as upstream does', async () => {
    const secrets = secretsClient(ty);
    const err = await rejection(secrets.get('never/set'));
    expect(err.statusCode).toBe(404);
    expect(err.message).toMatch(/^Secret not found/);
    expect(await secrets.remove('never/set')).toEqual({});
  });

  it('keeps an empty object as a value', async () => {
    const secrets = secretsClient(ty);
    await secrets.set('empty/value', { secret: {}, expires: inADay() });
    expect((await secrets.get('empty/value')).secret).toEqual({});
  });

  it('lists names only, a page at a time, in order, until an answer has no continuationToken', async () => {
    const secrets = secretsClient(ty);
    const names = ['paged/e', 'paged/a', 'paged/c', 'paged/b', 'paged/d'];
    for (const name of names) await secrets.set(name, { secret: { v: uniqueValue() }, expires: inADay() });

    const seen: string[] = [];
    let continuationToken: string | undefined;
    let pages = 0;
    do {
      const page = await secrets.list({ limit: 2, ...(continuationToken ? { continuationToken } : {}) });
      expect(Object.keys(page).sort()).toEqual(
        page.continuationToken ? ['continuationToken', 'secrets'] : ['secrets'],
      );
      expect(page.secrets.length).toBeLessThanOrEqual(2);
      for (const name of page.secrets) expect(typeof name).toBe('string');
      seen.push(...page.secrets);
      continuationToken = page.continuationToken;
      pages++;
    } while (continuationToken);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((n) => n.startsWith('paged/'))).toEqual([...names].sort());
    expect([...seen].sort()).toEqual(seen);

    const all = await secrets.list();
    expect(all.continuationToken).toBeUndefined();
    expect(all.secrets).toEqual(seen);

    const bad = await rejection(secrets.list({ continuationToken: 'not-a-token' }));
    expect(bad.statusCode).toBe(400);
    expect(bad.message).toContain('continuationToken');
  });

  it('takes names with slashes and punctuation, encoded by the client or as raw path segments', async () => {
    const secrets = secretsClient(ty);
    const odd = [
      'repo:github.com/org/repo:branch:main',
      '/leading/and/trailing/',
      'with space',
      // Not `'`: the client signs it escaped but sends it raw, so upstream refuses it too (Bad mac).
      `punct !"#$%&()*+,-.:;<=>?@[\\]^_\`{|}~`,
      'a/../b',
    ];
    for (const name of odd) {
      await secrets.set(name, { secret: { name }, expires: inADay() });
      expect((await secrets.get(name)).secret, name).toEqual({ name });
    }
    const listed = (await secrets.list()).secrets;
    for (const name of odd) expect(listed).toContain(name);

    const raw = await sendRaw(
      ty,
      'PUT',
      '/secret/raw/slash/name',
      JSON.stringify({ secret: { r: 1 }, expires: inADay() }),
    );
    expect(raw.status).toBe(200);
    expect((await secrets.get('raw/slash/name')).secret).toEqual({ r: 1 });
    expect((await sendRaw(ty, 'GET', '/secret/raw/slash/name')).json.secret).toEqual({ r: 1 });
  });
});

describe('scopes', () => {
  it('needs secrets:set:<name> to set and remove, secrets:get:<name> to read and secrets:list-secrets to list', async () => {
    const writer = secretsClient(ty, await makeClient(ty, 'secrets/writer', ['secrets:set:captain:*']));
    const reader = secretsClient(
      ty,
      await makeClient(ty, 'secrets/reader', ['secrets:get:captain:limited/*']),
    );
    const nobody = secretsClient(ty, await makeClient(ty, 'secrets/nobody', []));
    const body = { secret: { sekrit: uniqueValue() }, expires: inADay() };

    await writer.set('captain:limited/1', body);
    await writer.set('captain:hidden/1', body);

    const setElsewhere = await rejection(writer.set('other/name', body));
    expect(setElsewhere.statusCode).toBe(403);
    expect(setElsewhere.code).toBe('InsufficientScopes');
    expect(setElsewhere.message).toContain('secrets:set:other/name');
    expect(JSON.stringify(setElsewhere.body)).not.toContain(body.secret.sekrit);
    expect(setElsewhere.body.requestInfo.payload.secret).toBe('(OMITTED)');

    const writerReads = await rejection(writer.get('captain:limited/1'));
    expect(writerReads.statusCode).toBe(403);
    expect(writerReads.message).toContain('secrets:get:captain:limited/1');

    expect((await reader.get('captain:limited/1')).secret).toEqual(body.secret);
    expect((await rejection(reader.get('captain:hidden/1'))).statusCode).toBe(403);
    // 403, not 404, whether or not the secret exists.
    expect((await rejection(reader.get('captain:hidden/never'))).statusCode).toBe(403);
    expect((await rejection(reader.remove('captain:limited/1'))).statusCode).toBe(403);
    expect((await rejection(reader.list())).statusCode).toBe(403);
    expect((await rejection(nobody.list())).message).toContain('secrets:list-secrets');
    const anonymous = new taskcluster.Secrets({ rootUrl: ty.rootUrl, retries: 0 });
    expect((await rejection(anonymous.get('captain:limited/1'))).statusCode).toBe(403);

    await writer.remove('captain:hidden/1');
    expect((await rejection(secretsClient(ty).get('captain:hidden/1'))).statusCode).toBe(404);
    expect((await reader.get('captain:limited/1')).secret).toEqual(body.secret);
  });

  it("lets a task read a secret named in task.scopes with its claim's temporary credentials", async () => {
    await secretsClient(ty).set('x/y', { secret: { token: 'for-the-task' }, expires: inADay() });
    await secretsClient(ty).set('x/z', { secret: { token: 'not-for-the-task' }, expires: inADay() });
    const taskQueueId = `test-prov/s${randomBytes(4).toString('hex')}`;
    const taskId = newTaskId();
    await queueClient(ty).createTask(taskId, taskDef(ty, { taskQueueId, scopes: ['secrets:get:x/y'] }));
    const claim = await queueClient(ty).claimWork(taskQueueId, {
      workerGroup: 'wg',
      workerId: 'wi',
      tasks: 1,
    });
    expect(claim.tasks).toHaveLength(1);
    const { credentials } = claim.tasks[0];
    expect(credentials.certificate).toBeDefined();

    const asTask = new taskcluster.Secrets({ rootUrl: ty.rootUrl, credentials, retries: 0 });
    expect((await asTask.get('x/y')).secret).toEqual({ token: 'for-the-task' });
    const other = await rejection(asTask.get('x/z'));
    expect(other.statusCode).toBe(403);
    expect(JSON.stringify(other.body)).not.toContain('not-for-the-task');
    expect((await rejection(asTask.set('x/y', { secret: {}, expires: inADay() }))).statusCode).toBe(403);
  });
});

describe('bad input', () => {
  it.each([
    ['a control character', 'bell\u0007name'],
    ['a tab', 'tab\tname'],
    ['a newline', 'line\nbreak'],
    ['non-ASCII characters', 'ünïcode'],
    ['more than 1024 characters', 'x'.repeat(1025)],
  ])('refuses a name with %s with a 400 naming it, and stores nothing', async (_what, name) => {
    const secrets = secretsClient(ty);
    const before = await secretCount(ty);
    const err = await rejection(secrets.set(name, { secret: { a: 1 }, expires: inADay() }));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('InputError');
    expect(err.message).toMatch(/^name ".*" is not valid/);
    expect(await secretCount(ty)).toBe(before);
    expect((await rejection(secrets.get(name))).statusCode).toBe(400);
    expect((await rejection(secrets.remove(name))).statusCode).toBe(400);
  });

  it('takes names of up to 1024 characters, even ones three times as long once encoded', async () => {
    for (const name of [`long/${'n'.repeat(1019)}`, '/'.repeat(1024), '%'.repeat(1024)]) {
      await secretsClient(ty).set(name, { secret: { ok: true }, expires: inADay() });
      expect((await secretsClient(ty).get(name)).secret).toEqual({ ok: true });
    }
  });

  it('refuses an empty name', async () => {
    const res = await sendRaw(ty, 'PUT', '/secret/', JSON.stringify({ secret: {}, expires: inADay() }));
    expect(res.status).toBe(400);
    expect(res.json.message).toMatch(/^name "" is not valid/);
  });

  it.each([
    ['no expires', (v: string) => ({ secret: { v } }), /body\.expires: is required/],
    ['no secret', () => ({ expires: inADay() }), /body\.secret: is required/],
    ['a string as the secret', (v: string) => ({ secret: v, expires: inADay() }), /body\.secret/],
    ['an array as the secret', (v: string) => ({ secret: [v], expires: inADay() }), /body\.secret/],
    ['null as the secret', () => ({ secret: null, expires: inADay() }), /body\.secret/],
    [
      'an expires that is not a date',
      (v: string) => ({ secret: { v }, expires: 'tomorrow' }),
      /body\.expires/,
    ],
    [
      'an unknown field',
      (v: string) => ({ secret: { v }, expires: inADay(), also: v }),
      /also.*not an allowed/,
    ],
  ])(
    'refuses a body with %s with a 400 naming the field, stores nothing and never echoes the value',
    async (_what, make, message) => {
      const value = uniqueValue();
      const before = await secretCount(ty);
      const err = await rejection(secretsClient(ty).set('bad/body', make(value)));
      expect(err.statusCode).toBe(400);
      expect(err.code).toBe('InputValidationError');
      expect(err.message).toMatch(message);
      expect(JSON.stringify(err.body)).not.toContain(value);
      expect(await secretCount(ty)).toBe(before);
      expect((await rejection(secretsClient(ty).get('bad/body'))).statusCode).toBe(404);
    },
  );

  it('echoes upstream\'s "(OMITTED)" for the value of a refused set, and the expiry as sent', async () => {
    const err = await rejection(secretsClient(ty).set('bad/body', { secret: 'x', expires: 'soon' }));
    expect(err.body.requestInfo.payload).toEqual({ secret: '(OMITTED)', expires: 'soon' });
    expect(err.body.requestInfo.params).toEqual({ name: 'bad/body' });
  });

  it('refuses malformed JSON without quoting it', async () => {
    const value = uniqueValue();
    for (const body of [
      `{"secret": {"password": ${value}}, "expires": "${inADay()}"}`,
      `{"secret": {"password": "${value}"}, "expires": "${inADay()}"`,
      value,
    ]) {
      const res = await sendRaw(ty, 'PUT', '/secret/bad/json', body);
      expect(res.status).toBe(400);
      expect(res.json.message).toMatch(/not valid JSON/);
      expect(res.text).not.toContain(value);
      expect(res.text).not.toContain(value.slice(-6));
    }
    expect((await rejection(secretsClient(ty).get('bad/json'))).statusCode).toBe(404);
  });
});

describe('encryption at rest', () => {
  it('stores the value encrypted: the plaintext is nowhere in the row', async () => {
    const value = uniqueValue();
    await secretsClient(ty).set('at-rest/one', { secret: { password: value }, expires: inADay() });
    const res = await ty.testDb.db.query<{ blob: Buffer; row: string }>(
      'select encrypted_value as blob, s::text as row from secrets s where name = $1',
      ['at-rest/one'],
    );
    expect(res.rows).toHaveLength(1);
    const { blob, row } = res.rows[0];
    expect(blob.includes(Buffer.from(value))).toBe(false);
    expect(blob.includes(Buffer.from('password'))).toBe(false);
    expect(row).not.toContain(value);
    expect(row).not.toContain(Buffer.from(value).toString('hex'));
    expect(row).toContain('at-rest/one');
  });

  it('does not let a value copied to another name be read there', async () => {
    const value = uniqueValue();
    const secrets = secretsClient(ty);
    await secrets.set('at-rest/source', { secret: { v: value }, expires: inADay() });
    await secrets.set('at-rest/target', { secret: { v: 'mine' }, expires: inADay() });
    await ty.testDb.db.query(
      `update secrets t set encrypted_value = s.encrypted_value, key_id = s.key_id
       from secrets s where s.name = 'at-rest/source' and t.name = 'at-rest/target'`,
    );
    const err = await rejection(secrets.get('at-rest/target'));
    expect(err.statusCode).toBe(500);
    expect(JSON.stringify(err.body)).not.toContain(value);
    expect((await secrets.get('at-rest/source')).secret).toEqual({ v: value });
  });
});
