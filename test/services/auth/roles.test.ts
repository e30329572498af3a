import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authClient, makeClient, rejection } from '../../helpers/clients.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
});
afterAll(async () => ty?.stop());

describe('roles', () => {
  it('gives a role’s scopes to clients that assume it, at once, and takes them away when it is deleted', async () => {
    const root = authClient(ty, ty.root);
    const creds = await makeClient(ty, 'roles/member', ['assume:team:builders', 'auth:current-scopes']);
    await root.createRole('team:builders', {
      description: 'builders',
      scopes: ['queue:create-task:builds/*', 'assume:team:readers'],
    });
    await root.createRole('team:readers', { description: 'readers', scopes: ['queue:get-artifact:*'] });
    const { scopes } = await authClient(ty, creds).currentScopes();
    expect(scopes).toEqual(
      expect.arrayContaining([
        'assume:team:builders',
        'assume:team:readers',
        'queue:create-task:builds/*',
        'queue:get-artifact:*',
      ]),
    );
    const role = await root.role('team:builders');
    expect(role.expandedScopes).toEqual([
      'assume:team:builders',
      'assume:team:readers',
      'queue:create-task:builds/*',
      'queue:get-artifact:*',
    ]);
    await root.deleteRole('team:readers');
    const after = await authClient(ty, creds).currentScopes();
    expect(after.scopes).not.toContain('queue:get-artifact:*');
    expect((await rejection(root.role('team:readers'))).statusCode).toBe(404);
  });

  it('expands parameterized roles with <..>', async () => {
    const root = authClient(ty, ty.root);
    await root.createRole('repo:github.com/*', {
      description: 'per repo',
      scopes: ['secrets:get:repo/<..>', 'queue:route:index.<..>.*'],
    });
    const res = await root.expandScopes({ scopes: ['assume:repo:github.com/acme/widgets'] });
    expect(res.scopes).toEqual([
      'assume:repo:github.com/acme/widgets',
      'queue:route:index.acme/widgets.*',
      'secrets:get:repo/acme/widgets',
    ]);
    const star = await root.expandScopes({ scopes: ['assume:repo:github.com/acme/*'] });
    expect(star.scopes).toEqual(
      expect.arrayContaining(['secrets:get:repo/acme/*', 'queue:route:index.acme/*']),
    );
  });

  it('returns the same role when the same create is repeated, and 409 for another definition', async () => {
    const root = authClient(ty, ty.root);
    await root.createRole('idem-role', { description: 'd', scopes: ['b:x', 'a:x'] });
    const again = await root.createRole('idem-role', { description: 'd', scopes: ['a:x', 'b:x'] });
    expect(again.scopes).toEqual(['a:x', 'b:x']);
    const err = await rejection(root.createRole('idem-role', { description: 'other', scopes: ['a:x'] }));
    expect(err.statusCode).toBe(409);
  });

  it('refuses to create or widen a role beyond the caller’s scopes, and changes nothing', async () => {
    const creds = await makeClient(ty, 'roles/admin', [
      'auth:create-role:proj:*',
      'auth:update-role:proj:*',
      'proj:x:*',
    ]);
    const admin = authClient(ty, creds);
    const e1 = await rejection(
      admin.createRole('proj:a', { description: 'x', scopes: ['proj:x:read', 'secrets:get:*'] }),
    );
    expect(e1.statusCode).toBe(403);
    expect(e1.message).toContain('secrets:get:*');
    expect((await rejection(authClient(ty, ty.root).role('proj:a'))).statusCode).toBe(404);

    await admin.createRole('proj:a', { description: 'x', scopes: ['proj:x:read'] });
    const e2 = await rejection(
      admin.updateRole('proj:a', { description: 'x', scopes: ['proj:x:read', 'assume:root-ish'] }),
    );
    expect(e2.statusCode).toBe(403);
    expect((await authClient(ty, ty.root).role('proj:a')).scopes).toEqual(['proj:x:read']);
    // Removing scopes the caller does not hold is allowed.
    await authClient(ty, ty.root).updateRole('proj:a', {
      description: 'x',
      scopes: ['proj:x:read', 'other:thing'],
    });
    const narrowed = await admin.updateRole('proj:a', { description: 'y', scopes: ['proj:x:read'] });
    expect(narrowed.scopes).toEqual(['proj:x:read']);
  });

  it('requires the * form of a parameterized scope to grant it', async () => {
    const creds = await makeClient(ty, 'roles/param-admin', [
      'auth:create-role:p:*',
      'secrets:get:repo/acme/widgets',
    ]);
    const admin = authClient(ty, creds);
    const err = await rejection(
      admin.createRole('p:*', { description: 'x', scopes: ['secrets:get:repo/<..>'] }),
    );
    expect(err.statusCode).toBe(403);
    expect(err.message).toContain('secrets:get:repo/*');
  });

  it('refuses roles that would form a dependency cycle', async () => {
    const root = authClient(ty, ty.root);
    const self = await rejection(
      root.createRole('loop:self', { description: 'x', scopes: ['assume:loop:self'] }),
    );
    expect(self.statusCode).toBe(400);
    expect(self.message).toContain('cycle');
    await root.createRole('loop:a', { description: 'x', scopes: ['assume:loop:b'] });
    await root.createRole('loop:b', { description: 'x', scopes: ['q:1'] });
    const err = await rejection(root.updateRole('loop:b', { description: 'x', scopes: ['assume:loop:*'] }));
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('loop:b');
    expect((await root.role('loop:b')).scopes).toEqual(['q:1']);
  });

  it('refuses malformed parameterized scopes and ** scopes', async () => {
    const root = authClient(ty, ty.root);
    for (const scopes of [['a:<..>:<..>'], ['a:*<..>'], ['a:**']]) {
      const err = await rejection(root.createRole('bad:*', { description: 'x', scopes }));
      expect(err.statusCode).toBe(400);
    }
  });

  it('lists roles whole, in pages, and by id', async () => {
    const root = authClient(ty, ty.root);
    for (const id of ['list:1', 'list:2', 'list:3'])
      await root.createRole(id, { description: id, scopes: [] });
    const all = await root.listRoles();
    const ids = all.map((r: { roleId: string }) => r.roleId);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(expect.arrayContaining(['list:1', 'list:2', 'list:3']));

    const paged: string[] = [];
    let token: string | undefined;
    do {
      const res = await root.listRoles2({ limit: 2, ...(token ? { continuationToken: token } : {}) });
      paged.push(...res.roles.map((r: { roleId: string }) => r.roleId));
      token = res.continuationToken;
    } while (token);
    expect(paged).toEqual(ids);
    const roleIds = await root.listRoleIds();
    expect(roleIds.roleIds).toEqual(ids);
    expect(roleIds.continuationToken).toBeUndefined();
  });

  it('records role changes in the audit history', async () => {
    const root = authClient(ty, ty.root);
    await root.createRole('audited', { description: 'x', scopes: [] });
    await root.updateRole('audited', { description: 'y', scopes: ['a:b'] });
    await root.deleteRole('audited');
    const h = await root.getEntityHistory('role', 'audited');
    expect(
      h.auditHistory.map((e: { actionType: string; clientId: string }) => `${e.clientId} ${e.actionType}`),
    ).toEqual([
      'static/taskcluster/root created',
      'static/taskcluster/root updated',
      'static/taskcluster/root deleted',
    ]);
  });
});
