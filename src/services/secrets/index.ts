import type { Service, ServiceOptions } from '../service.ts';

/** The secrets service (being written). */
export function createSecretsService(_opts: ServiceOptions): Service {
  return {
    api: {
      serviceName: 'secrets',
      title: 'Secrets Service',
      description: 'Not implemented yet.',
      endpoints: [],
    },
    async start() {},
    async stop() {},
  };
}
