import Hawk from 'hawk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inAnHour } from '../../helpers/clients.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

describe('HTTP behaviour shared by every service', () => {
  let ty: TestTaskyard;
  beforeAll(async () => {
    ty = await startTestTaskyard();
  });
  afterAll(async () => ty?.stop());

  const putClient = (clientId: string, body: string, sign: { payload?: string }) => {
    const url = `${ty.rootUrl}/api/auth/v1/clients/${encodeURIComponent(clientId)}`;
    const { header } = Hawk.client.header(url, 'PUT', {
      credentials: { id: ty.root.clientId, key: ty.root.accessToken, algorithm: 'sha256' },
      ...(sign.payload !== undefined ? { payload: sign.payload, contentType: 'application/json' } : {}),
    } as never);
    return fetch(url, {
      method: 'PUT',
      headers: { authorization: header, 'content-type': 'application/json' },
      body,
    });
  };

  it('checks a Hawk payload hash when the client sends one', async () => {
    const body = JSON.stringify({ expires: inAnHour(), description: 'hashed' });
    expect((await putClient('hash/good', body, { payload: body })).status).toBe(200);
    const tampered = await putClient('hash/bad', body.replace('hashed', 'swapped'), { payload: body });
    expect(tampered.status).toBe(401);
    expect(((await tampered.json()) as { message: string }).message).toContain('payload hash');
  });

  it('answers CORS preflight and adds CORS headers', async () => {
    const pre = await fetch(`${ty.rootUrl}/api/auth/v1/clients/x`, { method: 'OPTIONS' });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    const ping = await fetch(`${ty.rootUrl}/api/auth/v1/ping`);
    expect(ping.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('reports unhealthy when the database is gone', async () => {
    const other = await startTestTaskyard();
    expect((await fetch(`${other.rootUrl}/api/auth/v1/__heartbeat__`)).status).toBe(200);
    await other.testDb.db.close();
    const res = await fetch(`${other.rootUrl}/api/auth/v1/__heartbeat__`);
    expect(res.status).toBe(503);
    await other.stop();
  });
});

describe('behind a proxy', () => {
  const sign = (ty: TestTaskyard, publicUrl: string) =>
    Hawk.client.header(publicUrl, 'GET', {
      credentials: { id: ty.root.clientId, key: ty.root.accessToken, algorithm: 'sha256' },
    }).header;
  const viaProxy = (ty: TestTaskyard) =>
    fetch(`${ty.rootUrl}/api/auth/v1/scopes/current`, {
      headers: {
        authorization: sign(ty, 'https://taskyard.example.com/api/auth/v1/scopes/current'),
        'x-forwarded-host': 'taskyard.example.com',
        'x-forwarded-proto': 'https',
      },
    });

  it('honours x-forwarded-* only when trustProxy is set', async () => {
    const trusting = await startTestTaskyard({ config: { trustProxy: true } });
    const wary = await startTestTaskyard();
    try {
      expect((await viaProxy(trusting)).status).toBe(200);
      expect((await viaProxy(wary)).status).toBe(401);
    } finally {
      await trusting.stop();
      await wary.stop();
    }
  });
});
