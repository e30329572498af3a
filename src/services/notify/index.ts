import type { Service, ServiceOptions } from '../service.ts';

/** The notify service (being written). */
export function createNotifyService(_opts: ServiceOptions): Service {
  return {
    api: {
      serviceName: 'notify',
      title: 'Notify Service',
      description: 'Not implemented yet.',
      endpoints: [],
    },
    async start() {},
    async stop() {},
  };
}
