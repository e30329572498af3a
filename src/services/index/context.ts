import type { Logger } from 'pino';
import type { Config } from '../../platform/config.ts';
import type { Database } from '../../platform/db/index.ts';

/** What the index's endpoints, event handler and expiry share. */
export interface IndexContext {
  database: Database;
  logger: Logger;
  now: () => Date;
  config: Config;
}
