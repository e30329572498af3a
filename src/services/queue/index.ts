import type { Logger } from 'pino';
import type { ServiceApi } from '../../platform/api/types.ts';
import type { BlobStore } from '../../platform/blob/index.ts';
import type { Database } from '../../platform/db/index.ts';
import { artifactEndpoints } from './api-artifacts.ts';
import { claimEndpoints } from './api-claims.ts';
import { groupEndpoints } from './api-groups.ts';
import { liveLogEndpoints } from './api-live-log.ts';
import { taskEndpoints } from './api-tasks.ts';
import { workerEndpoints } from './api-workers.ts';
import { defaultQueueSettings, type QueueContext, type QueueSettings } from './context.ts';
import { DependencyResolver } from './dependency-resolver.ts';
import { queueExchanges } from './events.ts';
import { LiveLogHub } from './live-log-hub.ts';
import { startQueueLoops } from './loops.ts';
import { workClaimerFor } from './work-claimer.ts';

export interface QueueServiceOptions {
  database: Database;
  logger: Logger;
  now?: () => Date;
  settings?: Partial<QueueSettings>;
  credentials?: { clientId: string; accessToken: string };
  /** Where s3 artifacts' bytes live. */
  blobStore?: BlobStore;
  /** Run the background loops (dependency resolution, claim expiry, deadlines, expiry) here. */
  backgroundLoops?: boolean;
  /** Most bytes one run's live log may hold (default 100 MiB). */
  liveLogMaxBytes?: number;
}

export interface QueueService {
  api: ServiceApi;
  exchanges: typeof queueExchanges;
  context: QueueContext;
  dependencyResolver: DependencyResolver;
  /** This process's live-log followers. */
  liveLogs: LiveLogHub;
  start(): Promise<void>;
  /** Answers every waiting claimWork at once (with no task), so the HTTP server can close. */
  releaseWaiters(): Promise<void>;
  stop(): Promise<void>;
}

export function createQueueService(opts: QueueServiceOptions): QueueService {
  const context: QueueContext = {
    database: opts.database,
    logger: opts.logger.child({ service: 'queue' }),
    now: opts.now ?? (() => new Date()),
    settings: { ...defaultQueueSettings, ...opts.settings },
    credentials: opts.credentials,
    blobStore: opts.blobStore,
  };
  const liveLogs = new LiveLogHub(context.database, context.logger);
  const dependencyResolver = new DependencyResolver(context.database, context.logger, context.now);
  const api: ServiceApi = {
    serviceName: 'queue',
    title: 'Queue',
    description:
      'The queue: tasks with dependencies and task groups, pulled by workers, with artifacts. Every change is announced on the queue exchanges.',
    endpoints: [
      ...taskEndpoints(context),
      ...groupEndpoints(context),
      ...claimEndpoints(context),
      ...artifactEndpoints(context),
      ...workerEndpoints(context),
      ...liveLogEndpoints(context, liveLogs, { maxBytes: opts.liveLogMaxBytes }),
    ],
  };
  let stopLoops: (() => Promise<void>) | undefined;
  return {
    api,
    exchanges: queueExchanges,
    context,
    dependencyResolver,
    liveLogs,
    async start() {
      if (opts.backgroundLoops !== false) {
        await dependencyResolver.start();
        stopLoops = await startQueueLoops(context);
      }
    },
    async releaseWaiters() {
      await workClaimerFor(context).stop();
      // Live-log streams would hold the HTTP server open; their clients re-request with an offset.
      await liveLogs.close();
    },
    async stop() {
      await stopLoops?.();
      await dependencyResolver.stop();
    },
  };
}
