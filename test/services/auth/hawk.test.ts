import Hawk from 'hawk';
import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteAuthenticator } from '../../../src/services/auth/remote-authenticator.ts';
import { authClient, type Credentials, makeClient, rejection } from '../../helpers/clients.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

let ty: TestTaskyard;
let user: Credentials;
beforeAll(async () => {
  ty = await startTestTaskyard();
  user = await makeClient(ty, 'hawk/user', ['auth:current-scopes', 'auth:create-client:temp/*', 'things:*']);
});
afterAll(async () => ty?.stop());

const hour = 3600_000;

async function signedGet(
  url: string,
  creds: Credentials,
  ext?: string,
): Promise<{ status: number; header: string }> {
  const { header } = Hawk.client.header(url, 'GET', {
    credentials: { id: creds.clientId, key: creds.accessToken, algorithm: 'sha256' },
    ...(ext ? { ext } : {}),
  });
  const res = await fetch(url, { headers: { authorization: header } });
  return { status: res.status, header };
}

describe('Hawk authentication', () => {
  it('rejects a replayed request: the same signed header is accepted once', async () => {
    const url = `${ty.rootUrl}/api/auth/v1/scopes/current`;
    const { status, header } = await signedGet(url, user);
    expect(status).toBe(200);
    const replay = await fetch(url, { headers: { authorization: header } });
    expect(replay.status).toBe(401);
    const body = (await replay.json()) as { code: string; message: string };
    expect(body.code).toBe('AuthenticationFailed');
    expect(body.message).toMatch(/nonce/i);
  });

  it('rejects a signature made with the wrong token, naming the problem', async () => {
    const err = await rejection(
      authClient(ty, { clientId: user.clientId, accessToken: 'x'.repeat(44) }).currentScopes(),
    );
    expect(err.statusCode).toBe(401);
    expect(err.message).toMatch(/Bad mac/);
  });

  it('rejects an unknown client', async () => {
    const err = await rejection(
      authClient(ty, { clientId: 'nobody', accessToken: 'x'.repeat(44) }).currentScopes(),
    );
    expect(err.statusCode).toBe(401);
    expect(err.message).toContain("Client with clientId 'nobody' not found");
  });

  it('accepts timestamps 15 minutes off, not more', async () => {
    const url = `${ty.rootUrl}/api/auth/v1/scopes/current`;
    const at = (offsetSec: number) => {
      const { header } = Hawk.client.header(url, 'GET', {
        credentials: { id: user.clientId, key: user.accessToken, algorithm: 'sha256' },
        timestamp: Math.floor(Date.now() / 1000) + offsetSec,
      });
      return fetch(url, { headers: { authorization: header } });
    };
    expect((await at(14 * 60)).status).toBe(200);
    expect((await at(-14 * 60)).status).toBe(200);
    const stale = await at(16 * 60);
    expect(stale.status).toBe(401);
    expect(((await stale.json()) as { message: string }).message).toMatch(/Stale timestamp/);
  });

  it('accepts temporary credentials made by the official client, with the scopes of the certificate', async () => {
    const temp = taskcluster.createTemporaryCredentials({
      start: new Date(Date.now() - 60_000),
      expiry: new Date(Date.now() + hour),
      scopes: ['auth:current-scopes', 'things:read'],
      credentials: user,
    });
    const { scopes } = await authClient(ty, temp).currentScopes();
    expect(scopes).toContain('things:read');
    expect(scopes).not.toContain('things:*');
    expect(scopes).not.toContain('auth:create-client:temp/*');
  });

  it('accepts named temporary credentials when the issuer may create that clientId', async () => {
    const temp = taskcluster.createTemporaryCredentials({
      clientId: 'temp/worker-1',
      expiry: new Date(Date.now() + hour),
      scopes: ['auth:current-scopes'],
      credentials: user,
    });
    const res = await fetch(`${ty.rootUrl}/api/auth/v1/scopes/current`, {
      headers: {
        authorization: Hawk.client.header(`${ty.rootUrl}/api/auth/v1/scopes/current`, 'GET', {
          credentials: { id: temp.clientId, key: temp.accessToken, algorithm: 'sha256' },
          ext: Buffer.from(JSON.stringify({ certificate: JSON.parse(temp.certificate) })).toString('base64'),
        }).header,
      },
    });
    expect(res.status).toBe(200);
    const bad = taskcluster.createTemporaryCredentials({
      clientId: 'elsewhere/worker',
      expiry: new Date(Date.now() + hour),
      scopes: ['auth:current-scopes'],
      credentials: user,
    });
    const err = await rejection(authClient(ty, bad).currentScopes());
    expect(err.statusCode).toBe(401);
    expect(err.message).toContain('auth:create-client:elsewhere/worker');
  });

  it('rejects temporary credentials with scopes the issuer lacks, expired ones, and ones lasting over 31 days', async () => {
    const greedy = taskcluster.createTemporaryCredentials({
      expiry: new Date(Date.now() + hour),
      scopes: ['auth:current-scopes', 'other:scope'],
      credentials: user,
    });
    const e1 = await rejection(authClient(ty, greedy).currentScopes());
    expect(e1.statusCode).toBe(401);
    expect(e1.message).toContain('other:scope');

    const expired = taskcluster.createTemporaryCredentials({
      start: new Date(Date.now() - 2 * hour),
      expiry: new Date(Date.now() - hour),
      scopes: ['auth:current-scopes'],
      credentials: user,
    });
    const e2 = await rejection(authClient(ty, expired).currentScopes());
    expect(e2.message).toMatch(/expired|past/);

    const cert = JSON.parse(greedy.certificate);
    cert.expiry = cert.start + 32 * 24 * hour;
    const e3 = await rejection(
      authClient(ty, { ...greedy, certificate: JSON.stringify(cert) }).currentScopes(),
    );
    expect(e3.message).toContain('31 days');
  });

  it('rejects temporary credentials issued by a client that was disabled since', async () => {
    const issuer = await makeClient(ty, 'hawk/issuer', ['auth:current-scopes']);
    const temp = taskcluster.createTemporaryCredentials({
      expiry: new Date(Date.now() + hour),
      scopes: ['auth:current-scopes'],
      credentials: issuer,
    });
    await authClient(ty, temp).currentScopes();
    await authClient(ty, ty.root).disableClient('hawk/issuer');
    const err = await rejection(authClient(ty, temp).currentScopes());
    expect(err.statusCode).toBe(401);
    expect(err.message).toContain('disabled');
  });

  it('restricts a request to authorizedScopes, and refuses authorizedScopes the client lacks', async () => {
    const restricted = authClient(ty, user, { authorizedScopes: ['auth:current-scopes', 'things:read'] });
    const { scopes } = await restricted.currentScopes();
    expect(scopes).toContain('things:read');
    expect(scopes).not.toContain('things:*');
    const tooMuch = authClient(ty, user, { authorizedScopes: ['auth:current-scopes', 'nope:x'] });
    const err = await rejection(tooMuch.currentScopes());
    expect(err.statusCode).toBe(401);
    expect(err.message).toContain('authorizedScopes');
    const narrowed = authClient(ty, user, { authorizedScopes: ['things:read'] });
    expect((await rejection(narrowed.currentScopes())).statusCode).toBe(403);
  });

  it('accepts a signed URL from buildSignedUrl until it expires', async () => {
    const client = authClient(ty, user);
    const url = client.buildSignedUrl(client.currentScopes, { expiration: 60 });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { scopes: string[] }).scopes).toContain('things:*');
    // Signed URLs may be fetched more than once until they expire.
    expect((await fetch(url)).status).toBe(200);
    ty.clock.advance(5 * 60_000);
    const late = await fetch(url);
    expect(late.status).toBe(401);
    expect(((await late.json()) as { message: string }).message).toMatch(/expired/i);
    ty.clock.advance(-5 * 60_000);
    const tampered = await fetch(url.replace('scopes/current', 'scopes/current/'));
    expect(tampered.status).toBe(404);
  });

  it('refuses a request with both a bewit and an Authorization header', async () => {
    const client = authClient(ty, user);
    const url = client.buildSignedUrl(client.currentScopes, { expiration: 60 });
    const { header } = Hawk.client.header(url, 'GET', {
      credentials: { id: user.clientId, key: user.accessToken, algorithm: 'sha256' },
    });
    const res = await fetch(url, { headers: { authorization: header } });
    expect(res.status).toBe(401);
  });

  it('gives unauthenticated requests the anonymous role', async () => {
    const anon = authClient(ty);
    expect((await rejection(anon.currentScopes())).statusCode).toBe(403);
    await authClient(ty, ty.root).createRole('anonymous', {
      description: 'public',
      scopes: ['auth:current-scopes'],
    });
    const { scopes } = await anon.currentScopes();
    expect(scopes).toEqual(['assume:anonymous', 'auth:current-scopes']);
    await authClient(ty, ty.root).deleteRole('anonymous');
  });
});

describe('authenticateHawk, for services in other processes', () => {
  it('answers success with the expanded scopes, and failure with the reason', async () => {
    const remote = new RemoteAuthenticator(ty.rootUrl);
    const url = `${ty.rootUrl}/api/queue/v1/ping`;
    const { header } = Hawk.client.header(url, 'GET', {
      credentials: { id: user.clientId, key: user.accessToken, algorithm: 'sha256' },
    });
    const { hostname, port } = new URL(url);
    const ok = await remote.authenticate({
      method: 'get',
      resource: '/api/queue/v1/ping',
      host: hostname,
      port: Number(port),
      authorization: header,
    });
    expect(ok.status).toBe('auth-success');
    if (ok.status === 'auth-success') {
      expect(ok.clientId).toBe('hawk/user');
      expect(ok.scopes).toContain('things:*');
      expect(ok.expires.getTime()).toBeGreaterThan(Date.now());
    }
    const wrongPort = await remote.authenticate({
      method: 'get',
      resource: '/api/queue/v1/ping',
      host: hostname,
      port: 1,
      authorization: header,
    });
    expect(wrongPort).toMatchObject({ status: 'auth-failed' });
    const none = await remote.authenticate({ method: 'get', resource: '/x', host: hostname, port: 1 });
    expect(none.status).toBe('no-auth');
  });
});

describe('testAuthenticate', () => {
  const tester = { clientId: 'tester', accessToken: 'no-secret' };
  it('authenticates the fixed tester client with the scopes the test asks for', async () => {
    const res = await authClient(ty, tester).testAuthenticate({
      clientScopes: ['test:a', 'test:b*'],
      requiredScopes: ['test:bc'],
    });
    expect(res).toEqual({ clientId: 'tester', scopes: ['assume:anonymous', 'test:a', 'test:b*'] });
    const err = await rejection(
      authClient(ty, tester).testAuthenticate({ clientScopes: ['test:a'], requiredScopes: ['test:b'] }),
    );
    expect(err.statusCode).toBe(403);
    const bad = await rejection(
      authClient(ty, { clientId: 'tester', accessToken: 'wrong' }).testAuthenticate({
        clientScopes: [],
        requiredScopes: [],
      }),
    );
    expect(bad.statusCode).toBe(401);
  });

  it('testAuthenticateGet works with tester credentials and with temporary credentials it issued', async () => {
    expect(await authClient(ty, tester).testAuthenticateGet()).toMatchObject({ clientId: 'tester' });
    const temp = taskcluster.createTemporaryCredentials({
      clientId: 'test:temp',
      expiry: new Date(Date.now() + hour),
      scopes: ['test:authenticate-get'],
      credentials: tester,
    });
    expect(await authClient(ty, temp).testAuthenticateGet()).toMatchObject({ clientId: 'test:temp' });
    const restricted = authClient(ty, tester, { authorizedScopes: ['test:other'] });
    expect((await rejection(restricted.testAuthenticateGet())).statusCode).toBe(403);
  });
});
