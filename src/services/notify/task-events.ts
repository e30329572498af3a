/**
 * Notifications for task routes `notify.<type>.<target>.on-<event>`, from the queue's task
 * events. Each (task, run, exchange, route) is notified once however often the bus delivers the
 * event (see deliver.ts for the exact guarantee). Exceptions the task was canceled for, or whose
 * deadline passed, notify nobody (deliberate or expected ends, as upstream).
 */
import type { Binding, DeliveredMessage } from '../../platform/events/index.ts';
import { getTask } from '../queue/db.ts';
import { taskDefinition } from '../queue/task-record.ts';
import { deliverAll } from './deliver.ts';
import type { NotifyContext } from './notifier.ts';
import { deciderMatches, type NotifyRoute, parseRoute, ROUTE_PREFIX, type TaskEvent } from './routes.ts';
import { emailFor, ircFor, matrixFor, slackFor, type TaskInfo } from './templates.ts';

const QUEUE_EXCHANGE_PREFIX = 'exchange/taskcluster-queue/v1/';

/** The durable queue notify consumes task events from (shared by every process). */
export const NOTIFY_TASK_QUEUE_NAME = 'taskyard/notify/task-events';

const EVENT_OF_EXCHANGE: Record<string, TaskEvent> = Object.fromEntries(
  (['defined', 'pending', 'running', 'completed', 'failed', 'exception'] as const).map((e) => [
    `${QUEUE_EXCHANGE_PREFIX}task-${e}`,
    e,
  ]),
);

export const NOTIFY_TASK_BINDINGS: Binding[] = Object.keys(EVENT_OF_EXCHANGE).map((exchange) => ({
  exchange,
  pattern: `route.${ROUTE_PREFIX}#`,
}));

/** Exception reasons that notify nobody. */
export const IGNORED_REASONS = new Set(['canceled', 'deadline-exceeded']);
const RETRY_REASONS = new Set(['retry', 'task-retry']);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

interface RunLike {
  reasonCreated?: string;
  reasonResolved?: string;
}

export async function handleTaskEvent(ctx: NotifyContext, msg: DeliveredMessage): Promise<void> {
  const log = ctx.logger.child({ exchange: msg.exchange });
  const event = EVENT_OF_EXCHANGE[msg.exchange];
  if (!event) return;
  const payload = isObject(msg.payload) ? msg.payload : {};
  const status = isObject(payload.status) ? payload.status : undefined;
  const taskId = status?.taskId;
  if (!status || typeof taskId !== 'string' || !Array.isArray(status.runs)) {
    log.warn('task event without a task status; ignoring it');
    return;
  }
  const routes: NotifyRoute[] = [];
  for (const route of new Set(msg.routes)) {
    if (!route.startsWith(ROUTE_PREFIX)) continue;
    const parsed = parseRoute(route);
    if (typeof parsed === 'string') {
      log.info({ taskId, route }, `ignoring route ${route}: it ${parsed}`);
      continue;
    }
    routes.push(parsed);
  }
  if (routes.length === 0) return;
  const runs = status.runs as RunLike[];
  const runId = typeof payload.runId === 'number' ? payload.runId : Math.max(runs.length - 1, 0);
  if (event === 'exception' && IGNORED_REASONS.has(runs[runId]?.reasonResolved ?? '')) {
    log.debug({ taskId, runId }, 'not notifying: the task was canceled or passed its deadline');
    return;
  }
  // Whether the queue retried this exception: the task's current runs say (the message may predate the retry).
  const record = await getTask(ctx.database, taskId);
  if (!record) {
    log.warn({ taskId }, 'task of a notify event not found (expired?); not notifying');
    return;
  }
  const retried = event === 'exception' && RETRY_REASONS.has(record.runs[runId + 1]?.reasonCreated ?? '');
  const matching = routes.filter((r) => deciderMatches(r.decider, event, retried));
  if (matching.length === 0) return;

  const info: TaskInfo = {
    taskId,
    task: taskDefinition(record) as TaskInfo['task'],
    status: status as TaskInfo['status'],
    rootUrl: ctx.rootUrl(),
  };
  const tlog = log.child({ taskId, runId });
  await deliverAll(
    ctx,
    tlog,
    matching.map((route) => ({ key: `task/${taskId}/${runId}/${event}/${route.route}`, route })),
    record.expires,
    {
      email: (address) => emailFor(info, address, tlog),
      slack: (channelId) => slackFor(info, channelId, tlog),
      matrix: (roomId) => matrixFor(info, roomId, tlog),
      irc: (kind) => ircFor(info, kind, tlog),
      pulse: () => status,
    },
  );
}
