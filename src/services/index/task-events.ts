/**
 * Indexing from queue events. A task with routes `index.<path>` is indexed at each valid
 * `<path>` when it completes, with `rank`, `data` and `expires` from `task.extra.index`
 * (defaults 0, `{}` and the task's own expiry). Beyond Taskcluster: with
 * `task.extra.index.indexFailed: true` it is also indexed when it fails or ends in an exception
 * that is not retried. Each event is handled once per task run and exchange, however often the
 * bus delivers it; a handler that throws gets the event again later.
 */
import type { Binding, DeliveredMessage } from '../../platform/events/index.ts';
import type { IndexContext } from './context.ts';
import * as db from './db.ts';
import { pathProblem } from './namespaces.ts';

const QUEUE_EXCHANGE_PREFIX = 'exchange/taskcluster-queue/v1/';

/** The durable queue the index consumes from (one copy of each event, shared by every process). */
export const INDEX_QUEUE_NAME = 'taskyard/index/task-resolved';

/** The route prefix that asks for indexing: `index.<path>`. */
export const ROUTE_PREFIX = 'index.';

const STATE_OF_EXCHANGE: Record<string, 'completed' | 'failed' | 'exception'> = {
  [`${QUEUE_EXCHANGE_PREFIX}task-completed`]: 'completed',
  [`${QUEUE_EXCHANGE_PREFIX}task-failed`]: 'failed',
  [`${QUEUE_EXCHANGE_PREFIX}task-exception`]: 'exception',
};

export const INDEX_BINDINGS: Binding[] = Object.keys(STATE_OF_EXCHANGE).map((exchange) => ({
  exchange,
  pattern: `route.${ROUTE_PREFIX}#`,
}));

/** Runs created by a retry of the run before them: that run's exception was not the end of the task. */
const RETRY_REASONS = new Set(['retry', 'task-retry']);

interface Run {
  runId?: number;
  reasonCreated?: string;
  resolved?: string;
}

interface TaskRow {
  extra: Record<string, unknown> | null;
  expires: Date;
  runs: Run[];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Handles one delivered queue event; resolves once it is handled (or ignored for good). */
export async function handleTaskEvent(ctx: IndexContext, msg: DeliveredMessage): Promise<void> {
  const log = ctx.logger.child({ exchange: msg.exchange });
  const state = STATE_OF_EXCHANGE[msg.exchange];
  if (!state) {
    log.warn('index received an event from an exchange it does not consume; ignoring it');
    return;
  }
  const payload = (isPlainObject(msg.payload) ? msg.payload : {}) as {
    status?: { taskId?: unknown; runs?: unknown };
    runId?: unknown;
  };
  const taskId = payload.status?.taskId;
  if (typeof taskId !== 'string') {
    log.warn('task event without status.taskId; ignoring it');
    return;
  }
  const paths: string[] = [];
  for (const route of msg.routes) {
    if (!route.startsWith(ROUTE_PREFIX)) continue;
    const path = route.slice(ROUTE_PREFIX.length);
    const problem = pathProblem(path);
    if (problem) {
      log.info({ taskId, route }, `not indexing at route ${route}: the index path ${problem}`);
      continue;
    }
    if (!paths.includes(path)) paths.push(path);
  }
  if (paths.length === 0) return;

  // The message carries only the task's tags: the rest of the definition is in the queue's table.
  const res = await ctx.database.query<TaskRow>(
    'select extra, expires, runs from queue_tasks where task_id = $1',
    [taskId],
  );
  const task = res.rows[0];
  if (!task) {
    log.warn({ taskId }, 'task of an index event not found (expired?); not indexing it');
    return;
  }
  const options = isPlainObject(task.extra?.index) ? task.extra.index : {};
  const runs = Array.isArray(task.runs) ? task.runs : [];
  const runId = typeof payload.runId === 'number' ? payload.runId : Math.max(runs.length - 1, 0);
  if (state !== 'completed') {
    if (options.indexFailed !== true) return;
    if (RETRY_REASONS.has(runs[runId + 1]?.reasonCreated ?? '')) return;
  }
  const rank = options.rank ?? 0;
  if (typeof rank !== 'number' || !Number.isFinite(rank)) {
    log.warn({ taskId }, 'task.extra.index.rank is not a number; not indexing the task');
    return;
  }
  const data = options.data ?? {};
  if (!isPlainObject(data)) {
    log.warn({ taskId }, 'task.extra.index.data is not an object; not indexing the task');
    return;
  }
  let expires = task.expires;
  if (options.expires !== undefined) {
    const given = options.expires;
    const parsed =
      typeof given === 'string' || typeof given === 'number' ? new Date(given) : new Date(Number.NaN);
    if (Number.isNaN(parsed.getTime())) {
      log.warn({ taskId }, 'task.extra.index.expires is not a date; not indexing the task');
      return;
    }
    expires = parsed;
  }
  const resolved = runs[runId]?.resolved;
  const at = resolved && !Number.isNaN(Date.parse(resolved)) ? new Date(resolved) : ctx.now();

  const indexed = await ctx.database.transaction(async (tx) => {
    const fresh = await db.markEventHandled(tx, {
      taskId,
      runId,
      exchange: msg.exchange,
      // Once the task has expired its events are ignored anyway (it is not found).
      expires: task.expires,
    });
    if (!fresh) return undefined;
    const now = ctx.now();
    const outcomes: string[] = [];
    // In one order everywhere, so concurrent handlers lock rows in the same order.
    for (const path of [...paths].sort()) {
      const { indexed } = await db.indexTask(
        tx,
        path,
        { taskId, rank, data, expires },
        { source: 'event', runId, state, at },
        now,
      );
      if (indexed) outcomes.push(path);
    }
    return outcomes;
  });
  if (indexed === undefined) {
    log.debug({ taskId, runId }, 'index event already handled (a redelivery)');
  } else {
    log.debug({ taskId, runId, state, paths: indexed }, 'indexed task');
  }
}
