import type { Service, ServiceOptions } from '../service.ts';

/** The index service (being written). */
export function createIndexService(_opts: ServiceOptions): Service {
  return {
    api: { serviceName: 'index', title: 'Index Service', description: 'Not implemented yet.', endpoints: [] },
    async start() {},
    async stop() {},
  };
}
