import type { Logger } from 'pino';
import type { BlobStore } from '../../platform/blob/index.ts';
import type { Database } from '../../platform/db/index.ts';

export interface QueueSettings {
  /** How long a claim lasts before it must be renewed (reclaimTask). */
  claimTimeoutMs: number;
  /** The latest a deadline may be after `created`. */
  maxDeadlineMs: number;
  /** The most runs a task may have (reruns and retries included). */
  maxRunsAllowed: number;
  /** How long claimWork waits for work before answering with none. */
  claimWorkTimeoutMs: number;
}

export const defaultQueueSettings: QueueSettings = {
  claimTimeoutMs: 20 * 60 * 1000,
  maxDeadlineMs: 5 * 24 * 60 * 60 * 1000,
  maxRunsAllowed: 50,
  claimWorkTimeoutMs: 20_000,
};

/** What the queue's endpoints and loops share. */
export interface QueueContext {
  database: Database;
  logger: Logger;
  now: () => Date;
  settings: QueueSettings;
  /**
   * The queue's own client (static/taskcluster/queue): it issues the temporary credentials of
   * claimed tasks, so it must hold every scope a task may carry (`*`).
   */
  credentials?: { clientId: string; accessToken: string };
  /** Where s3 artifacts' bytes live; without one, s3 artifacts answer 501. */
  blobStore?: BlobStore;
}
