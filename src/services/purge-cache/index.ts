import type { Service, ServiceOptions } from '../service.ts';

/** The purge-cache service (being written). */
export function createPurgeCacheService(_opts: ServiceOptions): Service {
  return {
    api: {
      serviceName: 'purge-cache',
      title: 'PurgeCache Service',
      description: 'Not implemented yet.',
      endpoints: [],
    },
    async start() {},
    async stop() {},
  };
}
