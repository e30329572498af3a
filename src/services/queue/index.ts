import type { Logger } from 'pino';
import type { ServiceApi } from '../../platform/api/types.ts';
import type { Database } from '../../platform/db/index.ts';
import { taskEndpoints } from './api-tasks.ts';
import { defaultQueueSettings, type QueueContext, type QueueSettings } from './context.ts';
import { DependencyResolver } from './dependency-resolver.ts';
import { queueExchanges } from './events.ts';

export interface QueueServiceOptions {
  database: Database;
  logger: Logger;
  now?: () => Date;
  settings?: Partial<QueueSettings>;
  /** Run the background loops (dependency resolution, claim expiry, deadlines, expiry) here. */
  backgroundLoops?: boolean;
}

export interface QueueService {
  api: ServiceApi;
  exchanges: typeof queueExchanges;
  context: QueueContext;
  dependencyResolver: DependencyResolver;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createQueueService(opts: QueueServiceOptions): QueueService {
  const context: QueueContext = {
    database: opts.database,
    logger: opts.logger.child({ service: 'queue' }),
    now: opts.now ?? (() => new Date()),
    settings: { ...defaultQueueSettings, ...opts.settings },
  };
  const dependencyResolver = new DependencyResolver(context.database, context.logger, context.now);
  const api: ServiceApi = {
    serviceName: 'queue',
    title: 'Queue',
    description:
      'The queue: tasks with dependencies and task groups, pulled by workers, with artifacts. Every change is announced on the queue exchanges.',
    endpoints: [...taskEndpoints(context)],
  };
  return {
    api,
    exchanges: queueExchanges,
    context,
    dependencyResolver,
    async start() {
      if (opts.backgroundLoops !== false) await dependencyResolver.start();
    },
    async stop() {
      await dependencyResolver.stop();
    },
  };
}
