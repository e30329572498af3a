import type { Logger } from 'pino';
import type { ServiceApi } from '../platform/api/types.ts';
import type { Config } from '../platform/config.ts';
import type { Database } from '../platform/db/index.ts';
import type { EventBus, ServiceExchanges } from '../platform/events/index.ts';

/** What every service factory is given. */
export interface ServiceOptions {
  config: Config;
  database: Database;
  bus: EventBus;
  logger: Logger;
  now: () => Date;
  /** The deployment's root URL (known once the process listens). */
  rootUrl: () => string;
  /** Run background loops and event consumers in this process. */
  backgroundLoops: boolean;
}

/** A service of one process: its endpoints (and exchanges), and what it runs in the background. */
export interface Service {
  api: ServiceApi;
  exchanges?: ServiceExchanges;
  start(): Promise<void>;
  stop(): Promise<void>;
}
