import { createHmac } from 'node:crypto';
import slugid from 'slugid';
import { ApiError } from '../../platform/errors.ts';
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
  const issuer = issuerCredentials(ctx);
  const clientId =
    `task-client/${task.taskId}/${runId}/on/${worker.workerGroup}/${worker.workerId}` +
    `/until/${takenUntil.getTime() / 1000}`;
  const cert = {
    version: 1 as const,
    scopes: [
      `queue:reclaim-task:${task.taskId}/${runId}`,
      `queue:resolve-task:${task.taskId}/${runId}`,
      `queue:create-artifact:${task.taskId}/${runId}`,
      ...task.scopes,
    ],
    start: now.getTime(),
    expiry: takenUntil.getTime(),
    seed: slugid.v4() + slugid.v4(),
    signature: '',
    issuer: issuer.clientId,
  };
  const signed = [
    `version:${cert.version}`,
    `clientId:${clientId}`,
    `issuer:${issuer.clientId}`,
    `seed:${cert.seed}`,
    `start:${cert.start}`,
    `expiry:${cert.expiry}`,
    'scopes:',
  ].join('\n');
  cert.signature = createHmac('sha256', issuer.accessToken)
    .update(`${signed}\n${cert.scopes.join('\n')}`)
    .digest('base64');
  const accessToken = createHmac('sha256', issuer.accessToken)
    .update(cert.seed)
    .digest('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=/g, '');
  return { clientId, accessToken, certificate: JSON.stringify(cert) };
}
