import slugid from 'slugid';
import taskcluster from 'taskcluster-client';
import type { Credentials } from './clients.ts';
import type { TestTaskyard } from './taskyard.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

/** An official-client Queue object for this Taskyard (no retries). */
export function queueClient(
  ty: TestTaskyard,
  credentials: Credentials | undefined = ty.root,
  extra: Record<string, unknown> = {},
): Untyped {
  return new taskcluster.Queue({ rootUrl: ty.rootUrl, credentials, retries: 0, ...extra });
}

/** A valid task definition with fresh dates; `over` replaces any field. */
export function taskDef(ty: TestTaskyard, over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = ty.clock.now.getTime();
  return {
    taskQueueId: 'test-prov/test-worker',
    schedulerId: 'test-sched',
    created: new Date(now).toJSON(),
    deadline: new Date(now + 3600_000).toJSON(),
    payload: {},
    metadata: {
      name: 'test',
      description: 'a test task',
      owner: 'test@example.com',
      source: 'https://example.com/test',
    },
    ...over,
  };
}

export const newTaskId = (): string => slugid.v4();
