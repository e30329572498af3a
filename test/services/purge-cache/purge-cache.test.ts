import Hawk from 'hawk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeClient, rejection } from '../../helpers/clients.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import { purgeCacheClient, storedRequests } from './helpers.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard({ services: ['auth', 'purge-cache'], backgroundLoops: false });
});
afterAll(async () => ty?.stop());
beforeEach(async () => {
  await ty.testDb.db.query('delete from purge_cache_requests');
});

const POOL = 'prov-one/worker-a';

describe('purge requests', () => {
  it('records a purge request and lists it, for all pools and for its own pool', async () => {
    const pc = purgeCacheClient(ty);
    const at = ty.clock.now.getTime();
    expect(await pc.purgeCache(POOL, { cacheName: 'gecko-level-3' })).toBeUndefined();

    const all = await pc.allPurgeRequests();
    expect(all.continuationToken).toBeUndefined();
    expect(all.requests).toHaveLength(1);
    expect(all.requests[0]).toEqual({
      provisionerId: 'prov-one',
      workerType: 'worker-a',
      cacheName: 'gecko-level-3',
      before: expect.any(String),
    });
    const before = new Date(all.requests[0].before).getTime();
    expect(before).toBeGreaterThanOrEqual(at);
    expect(before).toBeLessThan(at + 5000);

    expect((await pc.purgeRequests(POOL)).requests).toEqual(all.requests);
    expect((await pc.purgeRequests('prov-one/worker-b')).requests).toEqual([]);
  });

  it('moves the before time of a repeated request forward instead of adding another', async () => {
    const pc = purgeCacheClient(ty);
    await pc.purgeCache(POOL, { cacheName: 'repeat' });
    const first = (await pc.purgeRequests(POOL)).requests[0].before;
    ty.clock.advance(60_000);
    await pc.purgeCache(POOL, { cacheName: 'repeat' });
    const { requests } = await pc.purgeRequests(POOL);
    expect(requests).toHaveLength(1);
    expect(new Date(requests[0].before).getTime() - new Date(first).getTime()).toBeGreaterThanOrEqual(60_000);
    const [row] = await storedRequests(ty);
    expect(row.expires.getTime() - row.before.getTime()).toBe(24 * 3600_000);
  });

  it('keeps each pool to its own requests and filters them by since, inclusively', async () => {
    const pc = purgeCacheClient(ty);
    await pc.purgeCache(POOL, { cacheName: 'cache-1' });
    ty.clock.advance(1000);
    await pc.purgeCache(POOL, { cacheName: 'cache-2' });
    await pc.purgeCache('prov-two/worker-a', { cacheName: 'cache-1' });
    await pc.purgeCache('prov-one/worker-b', { cacheName: 'cache-1' });

    expect((await pc.allPurgeRequests()).requests).toHaveLength(4);
    expect((await pc.purgeRequests('prov-two/worker-a')).requests).toHaveLength(1);
    expect((await pc.purgeRequests('prov-one/worker-b')).requests).toHaveLength(1);

    const { requests } = await pc.purgeRequests(POOL);
    expect(requests.map((r: { cacheName: string }) => r.cacheName)).toEqual(['cache-1', 'cache-2']);
    const names = async (since: string) =>
      (await pc.purgeRequests(POOL, { since })).requests.map((r: { cacheName: string }) => r.cacheName);
    expect(await names(requests[0].before)).toEqual(['cache-1', 'cache-2']);
    expect(await names(requests[1].before)).toEqual(['cache-2']);
    expect(await names(new Date(ty.clock.now.getTime() + 1000).toJSON())).toEqual([]);
    // Like Taskcluster, any date Date.parse reads is taken, not only ISO date-times.
    expect(await names(new Date(ty.clock.now.getTime() - 3600_000).toString())).toEqual([
      'cache-1',
      'cache-2',
    ]);
  });

  it('pages through every request with continuationToken and limit', async () => {
    const pc = purgeCacheClient(ty);
    const expected: string[] = [];
    for (const pool of ['p-a/w', 'p-b/w']) {
      for (const cache of ['c1', 'c2', 'c3']) {
        await pc.purgeCache(pool, { cacheName: cache });
        expected.push(`${pool}:${cache}`);
      }
    }
    const seen: string[] = [];
    let continuationToken: string | undefined;
    let pages = 0;
    do {
      const page = await pc.allPurgeRequests({
        limit: 4,
        ...(continuationToken ? { continuationToken } : {}),
      });
      expect(page.requests.length).toBeLessThanOrEqual(4);
      for (const r of page.requests) seen.push(`${r.provisionerId}/${r.workerType}:${r.cacheName}`);
      continuationToken = page.continuationToken;
      pages++;
    } while (continuationToken);
    expect(pages).toBe(2);
    expect(seen).toEqual(expected);

    const bad = await rejection(pc.allPurgeRequests({ continuationToken: 'not-a-token' }));
    expect(bad.statusCode).toBe(400);
    expect(bad.message).toContain('continuationToken');
  });

  it('answers a pool asked for with a raw slash in the path as with the encoded one', async () => {
    await purgeCacheClient(ty).purgeCache(POOL, { cacheName: 'raw' });
    const creds = await makeClient(ty, 'purge/raw-reader', [`purge-cache:purge-requests::${POOL}`]);
    const url = `${ty.rootUrl}/api/purge-cache/v1/purge-cache/${POOL}`;
    const { header } = Hawk.client.header(url, 'GET', {
      credentials: { id: creds.clientId, key: creds.accessToken, algorithm: 'sha256' },
    });
    const res = await fetch(url, { headers: { authorization: header } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { requests: Array<{ cacheName: string }> };
    expect(body.requests.map((r) => r.cacheName)).toEqual(['raw']);
  });

  it('serves a pool its requests from a short cache, dropped by a purge made in this process', async () => {
    const pc = purgeCacheClient(ty);
    await pc.purgeCache(POOL, { cacheName: 'first' });
    expect((await pc.purgeRequests(POOL)).requests).toHaveLength(1);
    // A purge made through another process (straight into the database) shows within 10 seconds.
    await ty.testDb.db.query(
      `insert into purge_cache_requests (worker_pool_id, cache_name, before, expires)
       values ($1, 'elsewhere', $2, $2::timestamptz + interval '1 day')`,
      [POOL, ty.clock.now],
    );
    expect((await pc.purgeRequests(POOL)).requests).toHaveLength(1);
    ty.clock.advance(10_001);
    expect((await pc.purgeRequests(POOL)).requests).toHaveLength(2);
    // One made through this process shows at once.
    await pc.purgeCache(POOL, { cacheName: 'third' });
    expect((await pc.purgeRequests(POOL)).requests).toHaveLength(3);
  });
});

describe('purge-cache scopes', () => {
  it('refuses a purge without purge-cache:<workerPoolId>:<cacheName>, storing nothing', async () => {
    const creds = await makeClient(ty, 'purge/limited', [`purge-cache:${POOL}:allowed`]);
    const limited = purgeCacheClient(ty, creds);
    const err = await rejection(limited.purgeCache(POOL, { cacheName: 'forbidden' }));
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('InsufficientScopes');
    expect(err.message).toContain(`purge-cache:${POOL}:forbidden`);
    const other = await rejection(limited.purgeCache('prov-one/worker-z', { cacheName: 'allowed' }));
    expect(other.statusCode).toBe(403);
    expect(await storedRequests(ty)).toEqual([]);

    await limited.purgeCache(POOL, { cacheName: 'allowed' });
    expect((await storedRequests(ty)).map((r) => r.cacheName)).toEqual(['allowed']);
  });

  it('needs purge-cache:purge-requests::<workerPoolId> to read a pool and purge-cache:all-purge-requests to list all', async () => {
    const creds = await makeClient(ty, 'purge/reader', [`purge-cache:purge-requests::${POOL}`]);
    const reader = purgeCacheClient(ty, creds);
    expect((await reader.purgeRequests(POOL)).requests).toEqual([]);
    const otherPool = await rejection(reader.purgeRequests('prov-one/worker-z'));
    expect(otherPool.statusCode).toBe(403);
    expect(otherPool.message).toContain('purge-cache:purge-requests::prov-one/worker-z');
    const all = await rejection(reader.allPurgeRequests());
    expect(all.statusCode).toBe(403);
    expect(all.message).toContain('purge-cache:all-purge-requests');

    const anonymous = purgeCacheClient(ty, null);
    expect((await rejection(anonymous.purgeRequests(POOL))).code).toBe('InsufficientScopes');
    expect((await rejection(anonymous.allPurgeRequests())).code).toBe('InsufficientScopes');
    expect((await rejection(anonymous.purgeCache(POOL, { cacheName: 'x' }))).code).toBe('InsufficientScopes');
  });
});

describe('purge-cache bad input', () => {
  it('refuses a workerPoolId that is not <provisionerId>/<workerType>, naming it, and stores nothing', async () => {
    const pc = purgeCacheClient(ty);
    for (const pool of ['no-slash', 'a/b/c', 'has space/w', `${'x'.repeat(39)}/w`, '/w', 'list']) {
      const err = await rejection(pc.purgeCache(pool, { cacheName: 'c' }));
      expect(err.statusCode, pool).toBe(400);
      expect(err.message, pool).toContain('workerPoolId');
    }
    const read = await rejection(pc.purgeRequests('no-slash'));
    expect(read.statusCode).toBe(400);
    expect(read.message).toContain('workerPoolId');
    expect(await storedRequests(ty)).toEqual([]);
  });

  it('refuses a purge without a cacheName or with other fields, naming the problem, and stores nothing', async () => {
    const pc = purgeCacheClient(ty);
    const missing = await rejection(pc.purgeCache(POOL, {}));
    expect(missing.statusCode).toBe(400);
    expect(missing.message).toContain('cacheName');
    const wrongType = await rejection(pc.purgeCache(POOL, { cacheName: 42 }));
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.message).toContain('cacheName');
    const extra = await rejection(pc.purgeCache(POOL, { cacheName: 'c', force: true }));
    expect(extra.statusCode).toBe(400);
    expect(extra.message).toContain('force');
    expect(await storedRequests(ty)).toEqual([]);
  });

  it('refuses a since that is not a date, naming it', async () => {
    const err = await rejection(purgeCacheClient(ty).purgeRequests(POOL, { since: 'yesterday-ish' }));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('InputError');
    expect(err.message).toContain('since');
  });
});

describe('purge-cache reference', () => {
  it('publishes the routes, queries and scopes of the official client', async () => {
    const res = await fetch(`${ty.rootUrl}/references/purge-cache/v1/api.json`);
    const ref = (await res.json()) as {
      entries: Array<{ name: string; route: string; query: string[]; scopes?: unknown; output?: string }>;
    };
    const byName = Object.fromEntries(ref.entries.map((e) => [e.name, e]));
    expect(byName.purgeCache).toMatchObject({
      route: '/purge-cache/<workerPoolId>',
      scopes: 'purge-cache:<workerPoolId>:<cacheName>',
    });
    expect(byName.allPurgeRequests).toMatchObject({
      route: '/purge-cache/list',
      query: ['continuationToken', 'limit'],
      scopes: 'purge-cache:all-purge-requests',
      output: 'v1/all-purge-cache-request-list.json#',
    });
    expect(byName.purgeRequests).toMatchObject({
      route: '/purge-cache/<workerPoolId>',
      query: ['since'],
      scopes: 'purge-cache:purge-requests::<workerPoolId>',
      output: 'v1/purge-cache-request-list.json#',
    });
  });
});
