import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApiServer, type PublishedService } from './platform/api/server.ts';
import type { Authenticator } from './platform/api/types.ts';
import {
  type BlobStore,
  type BlobStoreConfig,
  createBlobStore,
  FilesystemBlobStore,
  registerBlobRoutes,
  S3BlobStore,
} from './platform/blob/index.ts';
import { type Config, ConfigError, rootUrlOf } from './platform/config.ts';
import type { Database } from './platform/db/index.ts';
import {
  type EventBus,
  exchangesReference,
  OutboxRelay,
  type ServiceExchanges,
} from './platform/events/index.ts';
import { type AuthService, createAuthService } from './services/auth/index.ts';
import { RemoteAuthenticator } from './services/auth/remote-authenticator.ts';
import { createHooksService, HOOKS_CLIENT_ID } from './services/hooks/index.ts';

export { HOOKS_CLIENT_ID };
/** What the hooks service's own client holds: every hook's task is limited to its hook role anyway. */
export const HOOKS_CLIENT_SCOPES = ['assume:hook-id:*', 'queue:create-task:*', 'notify:email:*'];

import { createIndexService } from './services/index/index.ts';
import { createNotifyService } from './services/notify/index.ts';
import { createPurgeCacheService } from './services/purge-cache/index.ts';
import { createQueueService, type QueueService } from './services/queue/index.ts';
import { createSecretsService } from './services/secrets/index.ts';
import type { Service, ServiceOptions } from './services/service.ts';

/** Services built the same way (the auth and queue services are wired by hand below). */
const SIMPLE_SERVICES: Record<string, (opts: ServiceOptions) => Service> = {
  index: createIndexService,
  secrets: createSecretsService,
  'purge-cache': createPurgeCacheService,
  hooks: createHooksService,
  notify: (opts) => createNotifyService(opts),
};

/** Every service this build of Taskyard has. */
export const SERVICE_NAMES = ['auth', 'queue', 'index', 'secrets', 'purge-cache', 'hooks', 'notify'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface TaskyardOptions {
  config: Config;
  services: readonly ServiceName[];
  database: Database;
  bus: EventBus;
  logger: Logger;
  now?: () => Date;
  /** Check every response against its schema (tests). */
  validateOutput?: boolean;
  /** Run background loops (expiry and the like) in this process. */
  backgroundLoops?: boolean;
}

export interface Taskyard {
  app: FastifyInstance;
  auth?: AuthService;
  queue?: QueueService;
  relay: OutboxRelay;
  /** The root URL, known once listening (or from configuration). */
  rootUrl(): string;
  listen(): Promise<string>;
  stop(): Promise<void>;
}

function published(api: PublishedService['api'], exchanges?: ServiceExchanges): PublishedService {
  if (!exchanges) return { api };
  const schemaName = (decl: ServiceExchanges['exchanges'][number]) => String(decl.schema.$id);
  return {
    api,
    exchangesReference: () =>
      exchangesReference(exchanges, { schemaPath: (d) => `v1/${schemaName(d)}.json#` }),
    exchangeSchemas: new Map(exchanges.exchanges.map((d) => [schemaName(d), d.schema])),
  };
}

/** The queue's own client, from the static clients: it signs the credentials of claimed tasks. */
export const QUEUE_CLIENT_ID = 'static/taskcluster/queue';
function queueCredentials(config: Config): { clientId: string; accessToken: string } {
  const client = config.staticClients.find((c) => c.clientId === QUEUE_CLIENT_ID);
  if (!client) {
    throw new ConfigError(
      `the queue service needs the static client ${QUEUE_CLIENT_ID} (with scopes ["*"]) in staticClients (TASKYARD_STATIC_CLIENTS): it issues the credentials of claimed tasks`,
    );
  }
  return { clientId: client.clientId, accessToken: client.accessToken };
}

/** Where the filesystem blob store's signed URLs are served, under the root URL. */
export const BLOB_ROUTE_PREFIX = '/blobs';

/** The artifact blob store the configuration asks for, or undefined when none is configured. */
function blobStoreFromConfig(config: Config, rootUrl: () => string): BlobStore | undefined {
  const kind = config.blobStore ?? (config.blobRoot ? 'filesystem' : config.s3Bucket ? 's3' : undefined);
  if (kind === undefined) return undefined;
  let blobConfig: BlobStoreConfig;
  if (kind === 'filesystem') {
    if (!config.blobRoot) {
      throw new ConfigError(
        'setting "blobRoot" (TASKYARD_BLOB_ROOT) is required with the filesystem blob store',
      );
    }
    const secret = config.blobSecret ? Buffer.from(config.blobSecret, 'base64') : undefined;
    if (!secret || secret.length < 16) {
      throw new ConfigError(
        'setting "blobSecret" (TASKYARD_BLOB_SECRET) is required with the filesystem blob store: ' +
          'base64 of 32 random bytes, e.g. from `openssl rand -base64 32`, the same in every process',
      );
    }
    blobConfig = { kind, root: config.blobRoot };
    return createBlobStore(blobConfig, { baseUrl: () => rootUrl() + BLOB_ROUTE_PREFIX, secret });
  }
  if (!config.s3Bucket) {
    throw new ConfigError('setting "s3Bucket" (TASKYARD_S3_BUCKET) is required with the s3 blob store');
  }
  blobConfig = {
    kind,
    bucket: config.s3Bucket,
    prefix: config.s3Prefix,
    region: config.s3Region,
    endpoint: config.s3Endpoint,
    forcePathStyle: config.s3ForcePathStyle,
    accessKeyId: config.s3AccessKeyId,
    secretAccessKey: config.s3SecretAccessKey,
  };
  try {
    return createBlobStore(blobConfig);
  } catch (err) {
    throw new ConfigError((err as Error).message, { cause: err });
  }
}

/** Builds the services of one process, their HTTP server and the outbox relay. */
export async function createTaskyard(opts: TaskyardOptions): Promise<Taskyard> {
  const { config, logger } = opts;
  let port = config.port;
  const rootUrl = () => rootUrlOf(config, port);
  const blobStore = blobStoreFromConfig(config, rootUrl);
  let auth: AuthService | undefined;
  let authenticator: Authenticator;
  if (opts.services.includes('auth')) {
    if (!config.accessTokenKey) {
      throw new ConfigError(
        'setting "accessTokenKey" (TASKYARD_ACCESS_TOKEN_KEY) is required to run the auth service: ' +
          'base64 of 32 random bytes, e.g. from `openssl rand -base64 32`',
      );
    }
    auth = createAuthService({
      database: opts.database,
      logger,
      accessTokenKey: config.accessTokenKey,
      staticClients: config.staticClients,
      trustProxy: config.trustProxy,
      now: opts.now,
      backgroundLoops: opts.backgroundLoops,
    });
    await auth.start();
    authenticator = auth.authenticator;
  } else {
    authenticator = new RemoteAuthenticator(config.authUrl ?? rootUrl());
  }
  if (opts.services.includes('hooks') && !config.staticClients.some((c) => c.clientId === HOOKS_CLIENT_ID)) {
    throw new ConfigError(
      `the hooks service needs the static client ${HOOKS_CLIENT_ID} (with assume:hook-id:* and queue:create-task:*) in staticClients (TASKYARD_STATIC_CLIENTS): it creates the hooks' tasks`,
    );
  }
  let queue: QueueService | undefined;
  if (opts.services.includes('queue')) {
    queue = createQueueService({
      settings: { claimTimeoutMs: config.queueClaimTimeoutSeconds * 1000 },
      liveLogMaxBytes: config.liveLogMaxBytes,
      database: opts.database,
      logger,
      now: opts.now,
      backgroundLoops: opts.backgroundLoops,
      credentials: queueCredentials(config),
      blobStore,
    });
    await queue.start();
  }
  const services: PublishedService[] = [];
  if (auth) services.push(published(auth.api, auth.exchanges));
  if (queue) services.push(published(queue.api, queue.exchanges));
  const others: Service[] = [];
  for (const name of opts.services) {
    const factory = SIMPLE_SERVICES[name];
    if (!factory) continue;
    const service = factory({
      config,
      database: opts.database,
      bus: opts.bus,
      logger: logger.child({ service: name }),
      now: opts.now ?? (() => new Date()),
      rootUrl,
      backgroundLoops: opts.backgroundLoops !== false,
    });
    await service.start();
    others.push(service);
    services.push(published(service.api, service.exchanges));
  }
  const app = buildApiServer({
    services,
    authenticator,
    logger,
    rootUrl,
    trustProxy: config.trustProxy,
    maxRequestBytes: config.maxRequestBytes,
    validateOutput: opts.validateOutput,
    healthCheck: async () => {
      await opts.database.query('select 1');
    },
  });
  // Served by every process with a filesystem store (whatever its services), so any process
  // behind a load balancer answers the URLs the queue hands out.
  if (blobStore instanceof FilesystemBlobStore) registerBlobRoutes(app, blobStore, BLOB_ROUTE_PREFIX);
  const relay = new OutboxRelay({ db: opts.database, bus: opts.bus, logger });
  await relay.start();
  return {
    app,
    auth,
    queue,
    relay,
    rootUrl,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      const address = app.server.address();
      if (address && typeof address === 'object') port = address.port;
      return rootUrl();
    },
    async stop() {
      await queue?.releaseWaiters();
      await app.close();
      await relay.stop();
      for (const service of others) await service.stop();
      await queue?.stop();
      await auth?.stop();
      if (blobStore instanceof S3BlobStore) blobStore.destroy();
    },
  };
}
