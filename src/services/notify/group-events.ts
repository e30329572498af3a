/**
 * Beyond Taskcluster: one notification per resolution of a task group, for routes
 * `notify.<type>.<target>.on-group-resolved` on any task of the group. On each
 * task-group-resolved event the group's routes and per-state counts are read from the queue's
 * table with two index scans of the group's rows (no per-task work in JavaScript), and one
 * summary goes to each distinct route. A group that gets new tasks and resolves again is a new
 * resolution (it has more tasks or a later resolution time) and notifies again; a redelivered
 * event finds the same resolution and notifies nobody.
 */
import type { Binding, DeliveredMessage } from '../../platform/events/index.ts';
import { deliverAll } from './deliver.ts';
import { escapeHtml } from './markdown.ts';
import type { NotifyContext } from './notifier.ts';
import { type NotifyRoute, parseRoute } from './routes.ts';
import { groupHref } from './templates.ts';

export const NOTIFY_GROUP_QUEUE_NAME = 'taskyard/notify/task-group-resolved';
export const GROUP_RESOLVED_EXCHANGE = 'exchange/taskcluster-queue/v1/task-group-resolved';
export const NOTIFY_GROUP_BINDINGS: Binding[] = [{ exchange: GROUP_RESOLVED_EXCHANGE, pattern: '#' }];

export const GROUP_ROUTE_SUFFIX = '.on-group-resolved';

export interface GroupSummary {
  taskGroupId: string;
  total: number;
  counts: Record<string, number>;
  /** The latest resolution time of a task of the group (ISO text), identifying this resolution. */
  lastResolved: string | null;
}

/** The distinct group-notification routes of the group's tasks. */
export async function groupRoutes(ctx: NotifyContext, taskGroupId: string): Promise<string[]> {
  const res = await ctx.database.query<{ route: string }>(
    `select distinct r.route from queue_tasks t
       cross join lateral jsonb_array_elements_text(t.routes) as r(route)
     where t.task_group_id = $1 and r.route like 'notify.%' and r.route like $2
     order by r.route`,
    [taskGroupId, `%${GROUP_ROUTE_SUFFIX}`],
  );
  return res.rows.map((r) => r.route);
}

export async function groupSummary(ctx: NotifyContext, taskGroupId: string): Promise<GroupSummary> {
  const res = await ctx.database.query<{ state: string; n: number; last: string | null }>(
    `select coalesce(runs -> -1 ->> 'state', 'unscheduled') as state, count(*)::int as n,
            max(runs -> -1 ->> 'resolved') as last
     from queue_tasks where task_group_id = $1 group by 1`,
    [taskGroupId],
  );
  const counts: Record<string, number> = {};
  let total = 0;
  let lastResolved: string | null = null;
  for (const row of res.rows) {
    counts[row.state] = row.n;
    total += row.n;
    if (row.last && (!lastResolved || row.last > lastResolved)) lastResolved = row.last;
  }
  return { taskGroupId, total, counts, lastResolved };
}

const STATE_ORDER = ['completed', 'failed', 'exception', 'running', 'pending', 'unscheduled'];

function countsText(s: GroupSummary): string {
  const states = Object.keys(s.counts).sort((a, b) => STATE_ORDER.indexOf(a) - STATE_ORDER.indexOf(b));
  return states.map((st) => `${s.counts[st]} ${st}`).join(', ');
}

const outcomeOf = (s: GroupSummary) =>
  (s.counts.failed ?? 0) + (s.counts.exception ?? 0) > 0 ? 'resolved with failures' : 'resolved';

export async function handleGroupResolved(ctx: NotifyContext, msg: DeliveredMessage): Promise<void> {
  const log = ctx.logger.child({ exchange: msg.exchange });
  const payload = (typeof msg.payload === 'object' && msg.payload !== null ? msg.payload : {}) as {
    taskGroupId?: unknown;
    expires?: unknown;
  };
  const taskGroupId = payload.taskGroupId;
  if (typeof taskGroupId !== 'string') {
    log.warn('task-group-resolved event without a taskGroupId; ignoring it');
    return;
  }
  const routes: NotifyRoute[] = [];
  for (const route of await groupRoutes(ctx, taskGroupId)) {
    const parsed = parseRoute(route);
    if (typeof parsed === 'string') log.info({ taskGroupId, route }, `ignoring route ${route}: it ${parsed}`);
    else routes.push(parsed);
  }
  if (routes.length === 0) return;
  const summary = await groupSummary(ctx, taskGroupId);
  const resolution = `${summary.total}-${summary.lastResolved ?? 'none'}`;
  const expiresAt = typeof payload.expires === 'string' ? new Date(payload.expires) : new Date(Number.NaN);
  const expires = Number.isNaN(expiresAt.getTime())
    ? new Date(ctx.now().getTime() + 365 * 24 * 3600 * 1000)
    : expiresAt;
  const href = groupHref(ctx.rootUrl(), taskGroupId);
  const headline = `Task group ${taskGroupId} ${outcomeOf(summary)}: ${summary.total} task${summary.total === 1 ? '' : 's'}, ${countsText(summary)}`;
  const glog = log.child({ taskGroupId });
  await deliverAll(
    ctx,
    glog,
    routes.map((route) => ({ key: `group/${taskGroupId}/${resolution}/${route.route}`, route })),
    expires,
    {
      email: (address) => ({
        address,
        subject: `Task group ${outcomeOf(summary)}: ${taskGroupId}`,
        content:
          `Task group [\`${taskGroupId}\`](${href}) ${outcomeOf(summary)}.\n\n` +
          `**Tasks:** ${summary.total}\n` +
          Object.entries(summary.counts)
            .sort(([a], [b]) => STATE_ORDER.indexOf(a) - STATE_ORDER.indexOf(b))
            .map(([state, n]) => `- ${state}: ${n}`)
            .join('\n') +
          '\n',
        link: { text: 'Inspect Task Group', href },
        template: 'simple',
      }),
      slack: (channelId) => ({
        channelId,
        text: `${(summary.counts.failed ?? 0) + (summary.counts.exception ?? 0) > 0 ? ':x:' : ':heavy_check_mark:'} *<${href}|Task group ${taskGroupId}>* ${outcomeOf(summary)}: ${countsText(summary)}`,
      }),
      matrix: (roomId) => ({
        roomId,
        body: `${headline}: ${href}`,
        msgtype: 'm.notice',
        format: 'org.matrix.custom.html',
        formattedBody: `<a href="${escapeHtml(href)}">Task group ${escapeHtml(taskGroupId)}</a> ${outcomeOf(summary)}: ${escapeHtml(countsText(summary))}`,
      }),
      irc: () => `${headline}. Inspect: ${href}`,
      pulse: () => ({
        taskGroupId,
        state: (summary.counts.failed ?? 0) + (summary.counts.exception ?? 0) > 0 ? 'failed' : 'completed',
        total: summary.total,
        counts: summary.counts,
      }),
    },
  );
}
