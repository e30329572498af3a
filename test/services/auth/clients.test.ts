import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authClient, inAnHour, makeClient, rejection } from '../../helpers/clients.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
});
afterAll(async () => ty?.stop());

describe('clients', () => {
  it('creates a client whose token works and whose details read back without the token', async () => {
    const root = authClient(ty, ty.root);
    const expires = inAnHour();
    const created = await root.createClient('project/ci/builder', {
      expires,
      description: 'builds things',
      scopes: ['queue:create-task:*', 'auth:current-scopes'],
    });
    expect(created).toMatchObject({
      clientId: 'project/ci/builder',
      description: 'builds things',
      disabled: false,
      deleteOnExpiration: false,
      scopes: ['queue:create-task:*', 'auth:current-scopes'],
    });
    expect(new Date(created.expires).toJSON()).toBe(expires);
    expect(created.accessToken).toMatch(/^[A-Za-z0-9_-]{44}$/);

    const got = await root.client('project/ci/builder');
    expect(got.accessToken).toBeUndefined();
    expect(got.expandedScopes).toEqual(['auth:current-scopes', 'queue:create-task:*']);

    const asClient = authClient(ty, { clientId: 'project/ci/builder', accessToken: created.accessToken });
    const { scopes } = await asClient.currentScopes();
    expect(scopes).toContain('queue:create-task:*');
    expect(scopes).toContain('assume:anonymous');
  });

  it('returns the same client when the same create is repeated, and 409 for another definition', async () => {
    const root = authClient(ty, ty.root);
    const body = { expires: inAnHour(), description: 'same', scopes: ['a:b'] };
    const first = await root.createClient('idem/one', body);
    const again = await root.createClient('idem/one', body);
    expect(again.accessToken).toBe(first.accessToken);
    const err = await rejection(root.createClient('idem/one', { ...body, scopes: ['a:c'] }));
    expect(err.statusCode).toBe(409);
    expect(err.code).toBe('RequestConflict');
    expect((await root.client('idem/one')).scopes).toEqual(['a:b']);
  });

  it('refuses to create a client with scopes the caller does not hold, and creates nothing', async () => {
    const creds = await makeClient(ty, 'limited/creator', ['auth:create-client:limited/*', 'queue:foo']);
    const limited = authClient(ty, creds);
    const err = await rejection(
      limited.createClient('limited/escalated', {
        expires: inAnHour(),
        description: 'x',
        scopes: ['queue:foo', 'queue:bar'],
      }),
    );
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('InsufficientScopes');
    expect(err.message).toContain('queue:bar');
    expect(err.message).toContain('Missing: queue:bar.');
    const missing = await rejection(authClient(ty, ty.root).client('limited/escalated'));
    expect(missing.statusCode).toBe(404);
    // Granting what it holds is fine.
    await limited.createClient('limited/ok', {
      expires: inAnHour(),
      description: 'x',
      scopes: ['queue:foo'],
    });
  });

  it('lets a caller update a client only with scopes it holds, keeping the others', async () => {
    const creds = await makeClient(ty, 'upd/admin', ['auth:update-client:upd/*', 'q:one']);
    await makeClient(ty, 'upd/target', ['q:secret', 'q:one']);
    const admin = authClient(ty, creds);
    const err = await rejection(
      admin.updateClient('upd/target', { expires: inAnHour(), description: 'x', scopes: ['q:one', 'q:two'] }),
    );
    expect(err.code).toBe('InsufficientScopes');
    // Dropping q:secret (which the admin lacks) is allowed: removal needs no scopes.
    const updated = await admin.updateClient('upd/target', {
      expires: inAnHour(),
      description: 'new',
      scopes: ['q:one'],
    });
    expect(updated.scopes).toEqual(['q:one']);
    expect(updated.description).toBe('new');
  });

  it('resets an access token: the old one stops working at once and the new one works', async () => {
    const creds = await makeClient(ty, 'reset/me', ['auth:current-scopes']);
    const before = await authClient(ty, ty.root).client('reset/me');
    const reset = await authClient(ty, ty.root).resetAccessToken('reset/me');
    expect(reset.accessToken).not.toBe(creds.accessToken);
    expect(new Date(reset.lastRotated).getTime()).toBeGreaterThanOrEqual(
      new Date(before.lastRotated).getTime(),
    );
    const old = await rejection(authClient(ty, creds).currentScopes());
    expect(old.statusCode).toBe(401);
    await authClient(ty, { clientId: 'reset/me', accessToken: reset.accessToken }).currentScopes();
  });

  it('disables and enables a client; a disabled client cannot authenticate', async () => {
    const creds = await makeClient(ty, 'toggle/me', ['auth:current-scopes', 'auth:enable-client:toggle/me']);
    const root = authClient(ty, ty.root);
    expect((await root.disableClient('toggle/me')).disabled).toBe(true);
    const err = await rejection(authClient(ty, creds).currentScopes());
    expect(err.statusCode).toBe(401);
    expect(err.message).toContain('disabled');
    // Even holding auth:enable-client for itself, it cannot re-enable itself.
    const self = await rejection(authClient(ty, creds).enableClient('toggle/me'));
    expect(self.statusCode).toBe(401);
    expect((await root.enableClient('toggle/me')).disabled).toBe(false);
    await authClient(ty, creds).currentScopes();
  });

  it('deletes a client, after which it cannot authenticate; deleting again succeeds', async () => {
    const creds = await makeClient(ty, 'del/me', ['auth:current-scopes']);
    const root = authClient(ty, ty.root);
    await root.deleteClient('del/me');
    await root.deleteClient('del/me');
    expect((await rejection(root.client('del/me'))).statusCode).toBe(404);
    expect((await rejection(authClient(ty, creds).currentScopes())).statusCode).toBe(401);
  });

  it('refuses changes to static clients', async () => {
    const root = authClient(ty, ty.root);
    for (const call of [
      root.deleteClient(ty.root.clientId),
      root.resetAccessToken(ty.root.clientId),
      root.disableClient(ty.root.clientId),
      root.createClient('static/mine', { expires: inAnHour(), description: 'x' }),
    ]) {
      const err = await rejection(call);
      expect(err.statusCode).toBe(400);
      expect(err.message).toContain('static/');
    }
    await root.currentScopes();
  });

  it('lists clients by prefix, a page at a time', async () => {
    const root = authClient(ty, ty.root);
    for (const id of ['page/a', 'page/b', 'page/c', 'page/d', 'page/e', 'pagex']) {
      await root.createClient(id, { expires: inAnHour(), description: 'x' });
    }
    const seen: string[] = [];
    let continuationToken: string | undefined;
    let pages = 0;
    do {
      const res = await root.listClients({
        prefix: 'page/',
        limit: 2,
        ...(continuationToken ? { continuationToken } : {}),
      });
      seen.push(...res.clients.map((c: { clientId: string }) => c.clientId));
      continuationToken = res.continuationToken;
      pages++;
    } while (continuationToken);
    expect(seen).toEqual(['page/a', 'page/b', 'page/c', 'page/d', 'page/e']);
    expect(pages).toBe(3);
    const bad = await rejection(root.listClients({ continuationToken: 'not-a-token' }));
    expect(bad.statusCode).toBe(400);
  });

  it('records who changed a client in its audit history', async () => {
    const creds = await makeClient(ty, 'audit/admin', [
      'auth:create-client:audit/*',
      'auth:disable-client:audit/*',
    ]);
    const admin = authClient(ty, creds);
    await admin.createClient('audit/subject', { expires: inAnHour(), description: 'x' });
    await admin.disableClient('audit/subject');
    const history = await authClient(ty, ty.root).getEntityHistory('client', 'audit/subject');
    expect(
      history.auditHistory.map((h: { clientId: string; actionType: string }) => [h.clientId, h.actionType]),
    ).toEqual([
      ['audit/admin', 'created'],
      ['audit/admin', 'client disabled'],
    ]);
    const byActor = await authClient(ty, ty.root).listAuditHistory('audit/admin');
    expect(byActor.auditHistory.map((h: { entityId: string }) => h.entityId)).toEqual([
      'audit/subject',
      'audit/subject',
    ]);
  });

  it('deletes clients past expiry that asked for it, and keeps the others', async () => {
    const root = authClient(ty, ty.root);
    const soon = new Date(Date.now() + 1000).toJSON();
    await root.createClient('expiry/delete', { expires: soon, description: 'x', deleteOnExpiration: true });
    await root.createClient('expiry/keep', { expires: soon, description: 'x' });
    const { expireClients } = await import('../../../src/services/auth/client-expiry.ts');
    const deleted = await expireClients(ty.testDb.db, new Date(Date.now() + 5000));
    expect(deleted).toEqual(['expiry/delete']);
    expect((await rejection(root.client('expiry/delete'))).statusCode).toBe(404);
    expect((await root.client('expiry/keep')).clientId).toBe('expiry/keep');
  });

  it('records lastDateUsed when a client is used', async () => {
    const creds = await makeClient(ty, 'used/me', ['auth:current-scopes']);
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await ty.testDb.db.query('update auth_clients set last_date_used = $2 where client_id = $1', [
      'used/me',
      twoHoursAgo,
    ]);
    await authClient(ty, creds).currentScopes();
    await expect
      .poll(async () => new Date((await authClient(ty, ty.root).client('used/me')).lastDateUsed).getTime())
      .toBeGreaterThan(Date.now() - 60_000);
  });

  it('refuses a client past its expiry, though it can still be read', async () => {
    const root = authClient(ty, ty.root);
    const res = await root.createClient('expired/me', {
      expires: new Date(Date.now() + 60_000).toJSON(),
      description: 'short-lived',
      scopes: ['auth:current-scopes'],
    });
    const creds = { clientId: 'expired/me', accessToken: res.accessToken };
    await authClient(ty, creds).currentScopes();
    ty.clock.advance(2 * 60_000);
    try {
      const err = await rejection(authClient(ty, creds).currentScopes());
      expect(err.statusCode).toBe(401);
      expect(err.message).toContain('expired');
      expect((await root.client('expired/me')).clientId).toBe('expired/me');
    } finally {
      ty.clock.advance(-2 * 60_000);
    }
  });
});
