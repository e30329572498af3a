import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configDefaults } from '../../../src/platform/config.ts';
import { InProcessBus } from '../../../src/platform/events/index.ts';
import { createPurgeCacheService, expirePurgeRequests } from '../../../src/services/purge-cache/index.ts';
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

const hour = 3600_000;

/** Makes a stored request look as if it was last made `ms` earlier (the server checks Hawk
 * timestamps against its clock, so the clock cannot be moved by hours around API calls). */
async function age(workerPoolId: string, cacheName: string, ms: number): Promise<void> {
  await ty.testDb.db.query(
    `update purge_cache_requests set before = before - $3 * interval '1 millisecond',
       expires = expires - $3 * interval '1 millisecond'
     where worker_pool_id = $1 and cache_name = $2`,
    [workerPoolId, cacheName, ms],
  );
}

describe('purge request expiry', () => {
  it('deletes a request an hour after its day is up, and keeps younger ones', async () => {
    const pc = purgeCacheClient(ty);
    const now = ty.clock.now.getTime();
    await pc.purgeCache('exp/pool', { cacheName: 'old' });
    await pc.purgeCache('exp/pool', { cacheName: 'young' });
    await age('exp/pool', 'old', 12 * hour);

    // 'old' expires 12 hours from now and is deleted from an hour after that; 'young' a day on.
    expect(await expirePurgeRequests(ty.testDb.db, new Date(now + 13 * hour - 1000))).toBe(0);
    expect(await expirePurgeRequests(ty.testDb.db, new Date(now + 13 * hour + 1000))).toBe(1);
    expect((await storedRequests(ty)).map((r) => r.cacheName)).toEqual(['young']);
    ty.clock.advance(10_001); // past the pool's cached answer
    const names = (list: { requests: Array<{ cacheName: string }> }) => list.requests.map((r) => r.cacheName);
    expect(names(await pc.allPurgeRequests())).toEqual(['young']);
    expect(names(await pc.purgeRequests('exp/pool'))).toEqual(['young']);

    expect(await expirePurgeRequests(ty.testDb.db, new Date(now + 25 * hour + 1000))).toBe(1);
    expect(await storedRequests(ty)).toEqual([]);
  });

  it('keeps a repeated request for a day after the repeat', async () => {
    const pc = purgeCacheClient(ty);
    const now = ty.clock.now.getTime();
    await pc.purgeCache('exp/again', { cacheName: 'c' });
    await age('exp/again', 'c', 20 * hour);
    await pc.purgeCache('exp/again', { cacheName: 'c' });
    // Without the repeat it would have gone 5 hours from now.
    expect(await expirePurgeRequests(ty.testDb.db, new Date(now + 10 * hour))).toBe(0);
    expect(await storedRequests(ty)).toHaveLength(1);
    expect(await expirePurgeRequests(ty.testDb.db, new Date(now + 26 * hour))).toBe(1);
  });

  it('runs a pass in the background when the service starts with loops, and stop waits for it', async () => {
    const past = new Date(Date.now() - 3 * 24 * hour);
    await ty.testDb.db.query(
      `insert into purge_cache_requests (worker_pool_id, cache_name, before, expires)
       values ('exp/loop', 'stale', $1, $1::timestamptz + interval '1 day'),
              ('exp/loop', 'fresh', now(), now() + interval '1 day')`,
      [past],
    );
    const bus = new InProcessBus();
    const service = createPurgeCacheService({
      config: configDefaults,
      database: ty.testDb.db,
      bus,
      logger: pino({ level: 'silent' }),
      now: () => new Date(),
      rootUrl: () => ty.rootUrl,
      backgroundLoops: true,
    });
    await service.start();
    await service.stop();
    await bus.close();
    expect((await storedRequests(ty)).map((r) => r.cacheName)).toEqual(['fresh']);
  });
});
