import { Type } from '@sinclair/typebox';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { ApiError } from '../../platform/errors.ts';
import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { ResolutionBatcher } from './resolution-batcher.ts';
import {
  Identifier,
  slugidPattern,
  TaskDefinitionResponse,
  TaskStatusResponse,
  TaskStatusSchema,
  taskQueueIdPattern,
} from './schemas.ts';
import { issuerCredentials, taskCredentials } from './task-credentials.ts';
import { type Run, splitTaskQueueId, type TaskRecord, taskDefinition, taskStatus } from './task-record.ts';
import { claimRun, reclaimRun, resolveRun } from './transitions.ts';
import { takenUntilFrom, workClaimerFor } from './work-claimer.ts';
import { quarantinedUntil, recordWorkerSeen } from './worker-info.ts';

const runParams = { taskId: slugidPattern, runId: /^[1-9]*[0-9]+$/ };
const DateTime = Type.String({ format: 'date-time' });
/** claimTask (deprecated) keeps its task queue and worker listed longer than claimWork does. */
const CLAIM_TASK_SEEN_MS = 5 * 24 * 60 * 60 * 1000;

const Credentials = Type.Object(
  {
    clientId: Type.String({ minLength: 1 }),
    accessToken: Type.String({ minLength: 1 }),
    certificate: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);
const claimFields = {
  status: TaskStatusSchema,
  runId: Type.Integer({ minimum: 0, maximum: 1000 }),
  workerGroup: Identifier,
  workerId: Identifier,
  takenUntil: DateTime,
  task: TaskDefinitionResponse,
  credentials: Credentials,
};
const TaskClaim = Type.Object(claimFields, { additionalProperties: false });
const WorkerBody = { workerGroup: Identifier, workerId: Identifier };

const ExceptionReason = Type.Union(
  ['worker-shutdown', 'malformed-payload', 'resource-unavailable', 'internal-error', 'intermittent-task'].map(
    (r) => Type.Literal(r),
  ),
);
type ExceptionReason =
  | 'worker-shutdown'
  | 'malformed-payload'
  | 'resource-unavailable'
  | 'internal-error'
  | 'intermittent-task';

/** claimWork, claimTask, reclaimTask, reportCompleted/Failed/Exception. */
export function claimEndpoints(ctx: QueueContext): EndpointDeclaration[] {
  const claimer = workClaimerFor(ctx);

  /**
   * Runs `change` on the task locked in one transaction (404 when the task, or the run the path
   * names, does not exist); returns the task as changed. The scopes of these endpoints name only
   * path parameters, so they were checked before the handler ran.
   */
  async function withLockedTask<T>(
    taskId: string,
    runIdParam: string,
    change: (tx: Queryable, task: TaskRecord, runId: number, now: Date) => Promise<T>,
  ): Promise<{ task: TaskRecord; result: T; now: Date }> {
    const runId = Number(runIdParam);
    return ctx.database.transaction(async (tx) => {
      const task = await db.getTask(tx, taskId, true);
      if (!task) throw new ApiError('ResourceNotFound', `task ${taskId} not found`);
      if (!task.runs[runId]) {
        throw new ApiError(
          'ResourceNotFound',
          `task ${taskId} has no run ${runId} (its runs are 0..${task.runs.length - 1})`,
        );
      }
      const now = ctx.now();
      const result = await change(tx, task, runId, now);
      return { task, result, now };
    });
  }

  const notRunning = (taskId: string, runId: number, run: Run) =>
    new ApiError(
      'RequestConflict',
      `run ${runId} of task ${taskId} is ${run.state}${run.reasonResolved ? ` (${run.reasonResolved})` : ''}, ` +
        'not running: only a running run can be reclaimed or resolved. A worker that finds its run resolved ' +
        '(canceled, deadline exceeded, claim expired) must stop working on it.',
    );

  /**
   * reportCompleted / reportFailed: the same outcome again on the latest run is a no-op. Written
   * in batches with the reports that arrive meanwhile (see ResolutionBatcher).
   */
  const resolutions = new ResolutionBatcher(ctx, notRunning);
  async function report(taskId: string, runIdParam: string, target: 'completed' | 'failed') {
    const task = await resolutions.report(taskId, Number(runIdParam), target);
    return { status: taskStatus(task) };
  }

  async function recordSeen(
    taskQueueId: string,
    run: Run,
    now: Date,
    recentTasks: Array<{ taskId: string; runId: number }> = [],
    expiresMs?: number,
  ) {
    if (!run.workerGroup || !run.workerId) return;
    await recordWorkerSeen(
      ctx.database,
      { taskQueueId, workerGroup: run.workerGroup, workerId: run.workerId },
      now,
      recentTasks,
      expiresMs,
    ).catch((err) => ctx.logger.warn({ err }, 'cannot record that a worker was seen'));
  }

  return [
    endpoint({
      name: 'claimWork',
      method: 'post',
      route: '/claim-work/<taskQueueId>',
      params: { taskQueueId: taskQueueIdPattern },
      scopes: { AllOf: ['queue:claim-work:<taskQueueId>', 'queue:worker-id:<workerGroup>/<workerId>'] },
      input: Type.Object(
        { ...WorkerBody, tasks: Type.Optional(Type.Integer({ minimum: 1, maximum: 32, default: 1 })) },
        { $id: 'claim-work-request', additionalProperties: false },
      ),
      output: Type.Object(
        { tasks: Type.Array(TaskClaim) },
        { $id: 'claim-work-response', additionalProperties: false },
      ),
      title: 'Claim Work',
      description:
        'Claims up to `tasks` pending runs of the task queue, highest priority first, then oldest. Waits up to 20 ' +
        'seconds for work and answers as soon as at least one run is claimed, or with an empty list. Each claim ' +
        'carries temporary credentials to reclaim, resolve and upload artifacts for the run, valid until `takenUntil`.',
      stability: 'stable',
      category: 'Worker Interface',
      handler: async ({ params, body, authorize, reply }) => {
        authorize({ workerGroup: body.workerGroup, workerId: body.workerId });
        issuerCredentials(ctx);
        // The response closing before we answer means the client went away: stop waiting.
        const gone = new AbortController();
        const onClose = () => gone.abort();
        reply.raw.once('close', onClose);
        try {
          const tasks = await claimer.claimWork({
            taskQueueId: params.taskQueueId,
            worker: { workerGroup: body.workerGroup, workerId: body.workerId },
            count: body.tasks ?? 1,
            signal: gone.signal,
          });
          return { tasks };
        } finally {
          reply.raw.off('close', onClose);
        }
      },
    }),
    endpoint({
      name: 'claimTask',
      method: 'post',
      route: '/task/<taskId>/runs/<runId>/claim',
      params: runParams,
      scopes: {
        AllOf: ['queue:claim-task:<provisionerId>/<workerType>', 'queue:worker-id:<workerGroup>/<workerId>'],
      },
      input: Type.Object(WorkerBody, { $id: 'task-claim-request', additionalProperties: false }),
      output: Type.Object(claimFields, { $id: 'task-claim-response', additionalProperties: false }),
      title: 'Claim Task',
      description:
        'Claims one given pending run (deprecated: use claimWork). Claiming it again as the same worker answers ' +
        'the same claim with fresh credentials.',
      stability: 'deprecated',
      category: 'Worker Interface',
      handler: async ({ params, body, authorize }) => {
        const task = await db.getTask(ctx.database, params.taskId);
        if (!task) throw new ApiError('ResourceNotFound', `task ${params.taskId} not found`);
        const worker = { workerGroup: body.workerGroup, workerId: body.workerId };
        authorize({ ...splitTaskQueueId(task.taskQueueId), ...worker });
        issuerCredentials(ctx);
        const runId = Number(params.runId);
        if (ctx.now() >= task.deadline) {
          throw new ApiError(
            'RequestConflict',
            `task ${task.taskId} is past its deadline (${task.deadline.toJSON()}) and cannot be claimed`,
          );
        }
        if (!task.runs[runId]) {
          throw new ApiError('ResourceNotFound', `task ${task.taskId} has no run ${runId}`);
        }
        const until = await quarantinedUntil(
          ctx.database,
          task.taskQueueId,
          worker.workerGroup,
          worker.workerId,
          ctx.now(),
        );
        if (until) {
          throw new ApiError(
            'RequestConflict',
            `worker ${worker.workerGroup}/${worker.workerId} is quarantined until ${until.toJSON()} and cannot claim tasks`,
          );
        }
        const {
          task: claimed,
          result: takenUntil,
          now,
        } = await withLockedTask(task.taskId, params.runId, async (tx, locked, _sameRunId, now) => {
          const run = locked.runs[runId];
          const latest = runId === locked.runs.length - 1;
          if (
            latest &&
            run.state === 'running' &&
            run.workerGroup === worker.workerGroup &&
            run.workerId === worker.workerId
          ) {
            return new Date(run.takenUntil!);
          }
          if (!latest || run.state !== 'pending') {
            throw new ApiError(
              'RequestConflict',
              `run ${runId} of task ${locked.taskId} is ${run.state}${latest ? '' : ' and not the latest run'}: it was already claimed by another worker, or resolved`,
            );
          }
          const takenUntil = takenUntilFrom(ctx, now);
          await claimRun(tx, locked, runId, worker, takenUntil, now);
          return takenUntil;
        });
        await recordSeen(
          claimed.taskQueueId,
          claimed.runs[runId],
          now,
          [{ taskId: claimed.taskId, runId }],
          CLAIM_TASK_SEEN_MS,
        );
        return {
          status: taskStatus(claimed),
          runId,
          ...worker,
          takenUntil: takenUntil.toJSON(),
          task: taskDefinition(claimed),
          credentials: taskCredentials(ctx, claimed, runId, worker, takenUntil, now),
        };
      },
    }),
    endpoint({
      name: 'reclaimTask',
      method: 'post',
      route: '/task/<taskId>/runs/<runId>/reclaim',
      params: runParams,
      scopes: 'queue:reclaim-task:<taskId>/<runId>',
      output: Type.Object(
        {
          status: TaskStatusSchema,
          runId: Type.Integer({ minimum: 0, maximum: 1000 }),
          workerGroup: Identifier,
          workerId: Identifier,
          takenUntil: DateTime,
          credentials: Credentials,
        },
        { $id: 'task-reclaim-response', additionalProperties: false },
      ),
      title: 'Reclaim Task',
      description:
        'Extends the claim on a running run by the claim timeout and answers fresh temporary credentials. ' +
        'Answers 409 when the run is no longer running (resolved, canceled, claim expired): the worker must stop.',
      stability: 'stable',
      category: 'Worker Interface',
      handler: async ({ params }) => {
        issuerCredentials(ctx);
        const runId = Number(params.runId);
        const {
          task,
          result: takenUntil,
          now,
        } = await withLockedTask(params.taskId, params.runId, async (tx, task, runId, now) => {
          if (now >= task.deadline) {
            throw new ApiError(
              'RequestConflict',
              `task ${task.taskId} is past its deadline (${task.deadline.toJSON()}) and cannot be reclaimed`,
            );
          }
          const run = task.runs[runId];
          if (run.state !== 'running' || runId !== task.runs.length - 1)
            throw notRunning(task.taskId, runId, run);
          const takenUntil = takenUntilFrom(ctx, now);
          await reclaimRun(tx, task, runId, takenUntil);
          return takenUntil;
        });
        const run = task.runs[runId];
        await recordSeen(task.taskQueueId, run, now);
        const worker = { workerGroup: run.workerGroup!, workerId: run.workerId! };
        return {
          status: taskStatus(task),
          runId,
          ...worker,
          takenUntil: takenUntil.toJSON(),
          credentials: taskCredentials(ctx, task, runId, worker, takenUntil, now),
        };
      },
    }),
    endpoint({
      name: 'reportCompleted',
      method: 'post',
      route: '/task/<taskId>/runs/<runId>/completed',
      params: runParams,
      scopes: 'queue:resolve-task:<taskId>/<runId>',
      output: TaskStatusResponse,
      title: 'Report Run Completed',
      description:
        'Resolves a running run as completed. Its dependents are scheduled shortly after, outside this request. ' +
        'Reporting it again answers 200; any other outcome after it answers 409.',
      stability: 'stable',
      category: 'Worker Interface',
      handler: async ({ params }) => report(params.taskId, params.runId, 'completed'),
    }),
    endpoint({
      name: 'reportFailed',
      method: 'post',
      route: '/task/<taskId>/runs/<runId>/failed',
      params: runParams,
      scopes: 'queue:resolve-task:<taskId>/<runId>',
      output: TaskStatusResponse,
      title: 'Report Run Failed',
      description:
        'Resolves a running run as failed: the task ran and did not succeed (e.g. a non-zero exit code). Not retried.',
      stability: 'stable',
      category: 'Worker Interface',
      handler: async ({ params }) => report(params.taskId, params.runId, 'failed'),
    }),
    endpoint({
      name: 'reportException',
      method: 'post',
      route: '/task/<taskId>/runs/<runId>/exception',
      params: runParams,
      scopes: 'queue:resolve-task:<taskId>/<runId>',
      input: Type.Object(
        { reason: ExceptionReason },
        { $id: 'task-exception-request', additionalProperties: false },
      ),
      output: TaskStatusResponse,
      title: 'Report Task Exception',
      description:
        'Resolves a running run as an exception: the task could not be run for a reason outside it. ' +
        '`worker-shutdown` and `intermittent-task` get a new pending run while the task has retries left; ' +
        '`malformed-payload`, `resource-unavailable` and `internal-error` are final.',
      stability: 'stable',
      category: 'Worker Interface',
      handler: async ({ params, body }) => {
        const reason = body.reason as ExceptionReason;
        const { task } = await withLockedTask(params.taskId, params.runId, async (tx, task, runId, now) => {
          const run = task.runs[runId];
          if (run.state === 'exception' && run.reasonResolved === reason) return;
          if (run.state !== 'running') throw notRunning(task.taskId, runId, run);
          await resolveRun(tx, task, runId, 'exception', reason, now);
        });
        return { status: taskStatus(task) };
      },
    }),
  ];
}
