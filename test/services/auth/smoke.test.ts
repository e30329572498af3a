import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

describe('auth through the official client', () => {
  let ty: TestTaskyard;
  beforeAll(async () => {
    ty = await startTestTaskyard();
  });
  afterAll(async () => ty?.stop());

  it('creates a client and reads it back', async () => {
    const auth = new taskcluster.Auth({ rootUrl: ty.rootUrl, credentials: ty.root, retries: 0 });
    const created = await auth.createClient('my/client', {
      expires: new Date(Date.now() + 3600_000).toJSON(),
      description: 'test',
      scopes: ['queue:foo'],
    });
    expect(created.accessToken).toHaveLength(44);
    const got = await auth.client('my/client');
    expect(got.scopes).toEqual(['queue:foo']);
  });
});
