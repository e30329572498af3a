/**
 * Messages for task notifications: the defaults, and the custom ones of `task.extra.notify`
 * rendered with JSON-e (context: task, status, taskId, rootUrl). A template that fails to
 * render, or renders to the wrong type, falls back to the default and is logged.
 */
import jsone from 'json-e';
import type { Logger } from 'pino';
import type { EmailMessage } from './email.ts';
import type { MatrixMessage } from './matrix.ts';
import type { SlackMessage } from './slack.ts';

export interface TaskInfo {
  taskId: string;
  task: Record<string, unknown> & {
    taskGroupId: string;
    metadata: { name: string; description: string; owner: string; source: string };
    extra: Record<string, unknown>;
  };
  status: Record<string, unknown> & { state: string; runs: unknown[] };
  rootUrl: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const taskHref = (info: Pick<TaskInfo, 'rootUrl' | 'taskId'>) =>
  `${info.rootUrl}/tasks/${info.taskId}`;
export const groupHref = (rootUrl: string, taskGroupId: string) => `${rootUrl}/tasks/groups/${taskGroupId}`;

function notifyExtra(info: TaskInfo): Record<string, unknown> {
  return isObject(info.task.extra?.notify) ? info.task.extra.notify : {};
}

/** Renders `template` (when given) and checks the result; the fallback otherwise. */
function render<T>(
  info: TaskInfo,
  log: Logger,
  field: string,
  template: unknown,
  check: (v: unknown) => v is T,
  fallback: T,
): T {
  if (template === undefined) return fallback;
  let value: unknown;
  try {
    value = jsone(template as Record<string, unknown>, {
      task: info.task,
      status: info.status,
      taskId: info.taskId,
      rootUrl: info.rootUrl,
    });
  } catch (err) {
    log.warn(
      { taskId: info.taskId, field, err: (err as Error).message },
      `task.extra.notify.${field} did not render; using the default message`,
    );
    return fallback;
  }
  if (!check(value)) {
    log.warn(
      { taskId: info.taskId, field },
      `task.extra.notify.${field} rendered to the wrong type; using the default message`,
    );
    return fallback;
  }
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';

export function emailFor(info: TaskInfo, address: string, log: Logger): EmailMessage {
  const { task, status, taskId } = info;
  const runCount = status.runs.length;
  const href = taskHref(info);
  const defaults: EmailMessage = {
    address,
    subject: `Task ${status.state}: ${task.metadata.name} - ${taskId}`,
    content:
      `Task [\`${taskId}\`](${href}) in task group [\`${task.taskGroupId}\`](${groupHref(info.rootUrl, task.taskGroupId)}) is ${status.state}.\n\n` +
      `**Status:** ${status.state} (in ${runCount} run${runCount === 1 ? '' : 's'})\n` +
      `**Name:** ${task.metadata.name}\n` +
      `**Description:** ${task.metadata.description}\n` +
      `**Owner:** ${task.metadata.owner}\n` +
      `**Source:** ${task.metadata.source}\n`,
    link: { text: 'Inspect Task', href },
    template: 'simple',
  };
  const extra = notifyExtra(info).email;
  if (!isObject(extra)) return defaults;
  const subject = render(info, log, 'email.subject', extra.subject, isString, defaults.subject).slice(0, 255);
  const content = render(info, log, 'email.content', extra.content, isString, defaults.content).slice(
    0,
    102400,
  );
  const isLink = (v: unknown): v is { text: string; href: string } | null =>
    v === null || (isObject(v) && isString(v.text) && isString(v.href) && /^https?:\/\//.test(v.href));
  const link = render(info, log, 'email.link', extra.link, isLink, defaults.link ?? null);
  const isTemplate = (v: unknown): v is 'simple' | 'fullscreen' => v === 'simple' || v === 'fullscreen';
  const template = render(info, log, 'email.template', extra.template, isTemplate, 'simple' as const);
  return {
    address,
    subject,
    content,
    ...(link ? { link: { text: link.text.slice(0, 40), href: link.href } } : {}),
    template,
  };
}

const SLACK_EMOJI: Record<string, string> = {
  pending: ':hourglass:',
  running: ':hammer_and_wrench:',
  completed: ':heavy_check_mark:',
  failed: ':x:',
  exception: ':heavy_exclamation_mark:',
};

export function slackFor(info: TaskInfo, channelId: string, log: Logger): SlackMessage {
  const { task, status } = info;
  const extra = notifyExtra(info);
  const emoji = SLACK_EMOJI[status.state] ?? ':question:';
  const text = render(
    info,
    log,
    'slackText',
    extra.slackText,
    isString,
    `${emoji} *<${taskHref(info)}|${task.metadata.name}>* transitioned to _${status.state}_`,
  );
  const blocks = render(info, log, 'slackBlocks', extra.slackBlocks, isArray, [
    { type: 'section', text: { type: 'mrkdwn', text } },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `Part of task group *<${groupHref(info.rootUrl, task.taskGroupId)}|${task.taskGroupId}>*`,
        },
      ],
    },
  ]);
  const attachments = render(info, log, 'slackAttachments', extra.slackAttachments, isArray, []);
  return {
    channelId,
    text,
    blocks,
    attachments,
    unfurlLinks: render(info, log, 'slackUnfurlLinks', extra.slackUnfurlLinks, isBoolean, false),
    unfurlMedia: render(info, log, 'slackUnfurlMedia', extra.slackUnfurlMedia, isBoolean, false),
  };
}

export function matrixFor(info: TaskInfo, roomId: string, log: Logger): MatrixMessage {
  const extra = notifyExtra(info);
  const body = render(
    info,
    log,
    'matrixBody',
    extra.matrixBody,
    isString,
    `'${info.task.metadata.name}' resolved as '${info.status.state}': ${taskHref(info)}`,
  );
  const formattedBody =
    extra.matrixFormattedBody === undefined
      ? undefined
      : render(info, log, 'matrixFormattedBody', extra.matrixFormattedBody, isString, '') || undefined;
  const isMsgtype = (v: unknown): v is MatrixMessage['msgtype'] =>
    v === 'm.notice' || v === 'm.text' || v === 'm.emote';
  const msgtype = isMsgtype(extra.matrixMsgtype) ? extra.matrixMsgtype : 'm.notice';
  const format = typeof extra.matrixFormat === 'string' ? extra.matrixFormat : undefined;
  return {
    roomId,
    body,
    msgtype,
    ...(format && formattedBody !== undefined ? { format, formattedBody } : {}),
  };
}

export function ircFor(info: TaskInfo, kind: 'irc-user' | 'irc-channel', log: Logger): string {
  const field = kind === 'irc-user' ? 'ircUserMessage' : 'ircChannelMessage';
  return render(
    info,
    log,
    field,
    notifyExtra(info)[field],
    isString,
    `Task "${info.task.metadata.name}" is ${info.status.state}. Inspect: ${taskHref(info)}`,
  );
}
