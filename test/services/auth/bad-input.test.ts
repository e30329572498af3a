import Hawk from 'hawk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authClient, inAnHour, rejection } from '../../helpers/clients.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard({ config: { maxRequestBytes: 64 * 1024 } });
});
afterAll(async () => ty?.stop());

/** Sends a raw request signed as root, as a hand-written tool would. */
async function send(method: string, path: string, body?: string, contentType = 'application/json') {
  const url = `${ty.rootUrl}/api/auth/v1${path}`;
  const { header } = Hawk.client.header(url, method, {
    credentials: { id: ty.root.clientId, key: ty.root.accessToken, algorithm: 'sha256' },
  });
  const res = await fetch(url, {
    method,
    headers: { authorization: header, ...(body !== undefined ? { 'content-type': contentType } : {}) },
    body,
  });
  const text = await res.text();
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return {
    status: res.status,
    body: JSON.parse(text) as { code: string; message: string; requestInfo: unknown },
  };
}

async function clientCount(): Promise<number> {
  const res = await ty.testDb.db.query<{ n: string }>('select count(*) as n from auth_clients');
  return Number(res.rows[0].n);
}

describe('bad input gets a clear 4xx and changes nothing', () => {
  const valid = () => ({ expires: inAnHour(), description: 'x', scopes: ['a:b'] });

  it.each([
    ['malformed JSON', '{"expires": ', 400, /not valid JSON/],
    ['a JSON array', '[1,2]', 400, /body: /],
    ['a wrong type', JSON.stringify({ ...valid(), description: 42 }), 400, /body\.description/],
    ['a missing field', JSON.stringify({ description: 'x' }), 400, /body\.expires: is required/],
    [
      'an unknown field',
      JSON.stringify({ ...valid(), admin: true }),
      400,
      /admin.*not an allowed property|not an allowed property/,
    ],
    [
      'a scope with a control character',
      JSON.stringify({ ...valid(), scopes: ['a:\u0007b'] }),
      400,
      /body\.scopes\.0/,
    ],
    ['a non-ASCII scope', JSON.stringify({ ...valid(), scopes: ['a:é'] }), 400, /body\.scopes\.0/],
    ['duplicate scopes', JSON.stringify({ ...valid(), scopes: ['a', 'a'] }), 400, /body\.scopes/],
    ['a date that is not a date', JSON.stringify({ ...valid(), expires: 'tomorrow' }), 400, /body\.expires/],
    [
      'an oversized body',
      JSON.stringify({ ...valid(), description: 'x'.repeat(100 * 1024) }),
      413,
      /too large/,
    ],
  ])('createClient with %s', async (_what, body, status, message) => {
    const before = await clientCount();
    const res = await send('PUT', '/clients/bad%2Finput', body);
    expect(res.status).toBe(status);
    expect(res.body.code).toMatch(/^(InputError|InputValidationError|InputTooLarge)$/);
    expect(res.body.message).toMatch(message);
    expect(res.body.requestInfo).toBeDefined();
    expect(await clientCount()).toBe(before);
  });

  it('refuses a body that is not JSON', async () => {
    const res = await send('PUT', '/clients/bad%2Finput', 'expires=now', 'application/x-www-form-urlencoded');
    expect(res.status).toBe(415);
  });

  it('refuses clientIds with characters outside the allowed set, naming the rule', async () => {
    for (const id of ['has space', 'tab\tinside', 'quote"d', 'ünïcode', 'semi;colon']) {
      const res = await send('PUT', `/clients/${encodeURIComponent(id)}`, JSON.stringify(valid()));
      expect(res.status, id).toBe(400);
      expect(res.body.message).toContain('clientId');
    }
  });

  it('accepts clientIds with /-segments and the allowed punctuation', async () => {
    const root = authClient(ty, ty.root);
    const id = 'org/team:ci/job.1+x|y@z!_-';
    await root.createClient(id, { expires: inAnHour(), description: 'odd but valid' });
    expect((await root.client(id)).clientId).toBe(id);
    const listed = await root.listClients({ prefix: 'org/team:' });
    expect(listed.clients.map((c: { clientId: string }) => c.clientId)).toEqual([id]);
  });

  it('answers unknown routes and methods with a JSON 404', async () => {
    const res = await send('GET', '/no/such/endpoint');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('ResourceNotFound');
    const outside = await fetch(`${ty.rootUrl}/nothing-here`);
    expect(outside.status).toBe(404);
    expect(((await outside.json()) as { code: string }).code).toBe('ResourceNotFound');
  });

  it('refuses query parameters of the wrong type', async () => {
    const res = await send('GET', '/clients/?limit=lots');
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('query.limit');
  });

  it('refuses an expandScopes with invalid scopes', async () => {
    const err = await rejection(authClient(ty, ty.root).expandScopes({ scopes: ['ok', 'bad\nscope'] }));
    expect(err.statusCode).toBe(400);
  });

  it('refuses a body on an endpoint that takes none', async () => {
    const res = await send('POST', '/clients/anything/enable', JSON.stringify({ surprise: 1 }));
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('takes no request body');
  });
});
