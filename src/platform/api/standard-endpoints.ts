import { Type } from '@sinclair/typebox';
import { ApiError } from '../errors.ts';
import { version } from '../version.ts';
import { type EndpointDeclaration, endpoint } from './types.ts';

/** The endpoints every service answers, upstream's `ping` and the Dockerflow trio. */
export function standardEndpoints(
  startedAt: number,
  healthCheck: () => Promise<void> = async () => {},
): EndpointDeclaration[] {
  return [
    endpoint({
      name: 'ping',
      method: 'get',
      route: '/ping',
      scopes: null,
      output: Type.Object({ alive: Type.Boolean(), uptime: Type.Number() }),
      title: 'Ping Server',
      description: 'Answers whenever the server is up; no authentication needed.',
      stability: 'stable',
      category: 'Monitoring',
      handler: async () => ({ alive: true, uptime: (Date.now() - startedAt) / 1000 }),
    }),
    endpoint({
      name: 'lbheartbeat',
      method: 'get',
      route: '/__lbheartbeat__',
      scopes: null,
      title: 'Load Balancer Heartbeat',
      description: 'Answers 200 while the process is up, for load balancers.',
      stability: 'stable',
      category: 'Monitoring',
      handler: async () => ({}),
    }),
    endpoint({
      name: 'version',
      method: 'get',
      route: '/__version__',
      scopes: null,
      title: 'Taskyard Version',
      description: 'The version of Taskyard this process runs.',
      stability: 'stable',
      category: 'Monitoring',
      handler: async () => version(),
    }),
    endpoint({
      name: 'heartbeat',
      method: 'get',
      route: '/__heartbeat__',
      scopes: null,
      title: 'Heartbeat',
      description:
        'Answers 200 when the service and what it depends on (its database) are healthy, 503 otherwise.',
      stability: 'stable',
      category: 'Monitoring',
      handler: async () => {
        try {
          await healthCheck();
        } catch (err) {
          throw new ApiError('ServiceUnavailable', `unhealthy: ${(err as Error).message}`);
        }
        return {};
      },
    }),
  ];
}
