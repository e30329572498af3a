import { startPeriodic } from '../../platform/periodic.ts';
import type { Service, ServiceOptions } from '../service.ts';
import { purgeCacheEndpoints } from './api.ts';
import { EXPIRY_INTERVAL_MS, expirePurgeRequests } from './expiry.ts';
import { PoolCache } from './pool-cache.ts';

export { PURGE_REQUEST_LIFETIME_MS } from './api.ts';
export { EXPIRY_GRACE_MS, expirePurgeRequests } from './expiry.ts';

/**
 * The purge-cache service: records requests to purge a named cache on a worker pool's workers,
 * which workers read before each task. Requests expire a day after they were last made.
 */
export function createPurgeCacheService(opts: ServiceOptions): Service {
  const poolCache = new PoolCache(opts.now);
  let stopExpiry: (() => Promise<void>) | undefined;

  return {
    api: {
      serviceName: 'purge-cache',
      title: 'Purge Cache Service',
      description: [
        'The purge-cache service is responsible for tracking cache-purge requests.',
        '',
        'Users make purge requests for named caches on the workers of a worker pool, and each',
        'request carries a time. Before starting a task, workers ask the service for their',
        "pool's requests and purge every cache of a requested name created before that time.",
      ].join('\n'),
      endpoints: purgeCacheEndpoints({ database: opts.database, now: opts.now, poolCache }),
    },
    async start() {
      if (!opts.backgroundLoops) return;
      stopExpiry = startPeriodic({
        name: 'purge request expiry',
        intervalMs: EXPIRY_INTERVAL_MS,
        logger: opts.logger,
        pass: async () => {
          const count = await expirePurgeRequests(opts.database, opts.now());
          if (count > 0) opts.logger.info({ count }, 'expired purge requests');
        },
      });
    },
    async stop() {
      await stopExpiry?.();
      stopExpiry = undefined;
      poolCache.clear();
    },
  };
}
