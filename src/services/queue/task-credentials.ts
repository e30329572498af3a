import { ApiError } from '../../platform/errors.ts';
import { issueTemporaryCredentials } from '../auth/certificate.ts';
import type { QueueContext } from './context.ts';
import type { TaskRecord } from './task-record.ts';

export interface TaskCredentials {
  clientId: string;
  accessToken: string;
  certificate: string;
}

/**
 * The queue's own credentials, or a 500 naming what is missing: without them no claim can be
 * answered, so callers check before changing anything.
 */
export function issuerCredentials(ctx: QueueContext): { clientId: string; accessToken: string } {
  if (!ctx.credentials) {
    throw new ApiError(
      'InternalServerError',
      'the queue has no credentials of its own (static client static/taskcluster/queue with scopes ["*"] ' +
        'in staticClients), so it cannot issue the temporary credentials of a claimed task',
    );
  }
  return ctx.credentials;
}

/**
 * Named temporary credentials for one claimed run, in the format of taskcluster-client's
 * createTemporaryCredentials: valid from now until the claim's takenUntil, holding the scopes to
 * reclaim, resolve and upload artifacts for this run plus the task's own scopes.
 */
export function taskCredentials(
  ctx: QueueContext,
  task: Pick<TaskRecord, 'taskId' | 'scopes'>,
  runId: number,
  worker: { workerGroup: string; workerId: string },
  takenUntil: Date,
  now: Date,
): TaskCredentials {
  const clientId =
    `task-client/${task.taskId}/${runId}/on/${worker.workerGroup}/${worker.workerId}` +
    `/until/${takenUntil.getTime() / 1000}`;
  return issueTemporaryCredentials({
    issuer: issuerCredentials(ctx),
    credentialName: clientId,
    scopes: [
      `queue:reclaim-task:${task.taskId}/${runId}`,
      `queue:resolve-task:${task.taskId}/${runId}`,
      `queue:create-artifact:${task.taskId}/${runId}`,
      ...task.scopes,
    ],
    start: now,
    expiry: takenUntil,
  });
}
