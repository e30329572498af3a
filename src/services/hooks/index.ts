import type { Service, ServiceOptions } from '../service.ts';

/** The hooks service (being written). */
export function createHooksService(_opts: ServiceOptions): Service {
  return {
    api: { serviceName: 'hooks', title: 'Hooks Service', description: 'Not implemented yet.', endpoints: [] },
    async start() {},
    async stop() {},
  };
}
