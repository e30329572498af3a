import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authClient, makeClient, rejection } from '../../helpers/clients.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

/** Two Taskyards on one database, as two `serve` processes behind a load balancer would be. */
describe('two processes sharing a database', () => {
  let a: TestTaskyard;
  let b: TestTaskyard;
  beforeAll(async () => {
    a = await startTestTaskyard();
    b = await startTestTaskyard({
      database: a.testDb,
      config: {
        accessTokenKey: a.config.accessTokenKey,
        staticClients: a.config.staticClients,
      },
    });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('sees clients, scope changes and disables made through the other at once', async () => {
    const creds = await makeClient(a, 'shared/client', ['auth:current-scopes']);
    const onB = authClient(b, creds);
    expect((await onB.currentScopes()).scopes).not.toContain('extra:scope');
    await authClient(a, a.root).updateClient('shared/client', {
      expires: new Date(Date.now() + 3600_000).toJSON(),
      description: 'x',
      scopes: ['auth:current-scopes', 'extra:scope'],
    });
    await expect
      .poll(async () => (await onB.currentScopes()).scopes, { timeout: 5000 })
      .toContain('extra:scope');
    await authClient(a, a.root).disableClient('shared/client');
    await expect
      .poll(async () => (await rejection(onB.currentScopes())).statusCode, { timeout: 5000 })
      .toBe(401);
  });

  it('sees role changes made through the other at once', async () => {
    const creds = await makeClient(a, 'shared/member', ['assume:shared-role', 'auth:current-scopes']);
    const onB = authClient(b, creds);
    await authClient(a, a.root).createRole('shared-role', { description: 'x', scopes: ['granted:by-role'] });
    await expect
      .poll(async () => (await onB.currentScopes()).scopes, { timeout: 5000 })
      .toContain('granted:by-role');
    await authClient(b, b.root).deleteRole('shared-role');
    await expect
      .poll(async () => (await authClient(a, creds).currentScopes()).scopes, { timeout: 5000 })
      .not.toContain('granted:by-role');
  });
});
