/** Firing a hook: render its JSON-e template and create the task through the queue's HTTP API. */
import hawk from 'hawk';
import jsone from 'json-e';
import type { Logger } from 'pino';
import slugid from 'slugid';
import type { Config } from '../../platform/config.ts';
import type { Database } from '../../platform/db/index.ts';
import * as db from './db.ts';

export const HOOKS_CLIENT_ID = 'static/taskcluster/hooks';
const LAST_FIRE_TTL_MS = 365 * 24 * 3600e3;

export interface HooksContext {
  database: Database;
  logger: Logger;
  now: () => Date;
  config: Config;
  /** The root URL of the deployment (where the queue is). */
  rootUrl: () => string;
}

export type FiredBy = 'schedule' | 'triggerHook' | 'triggerHookWithToken' | 'pulseMessage';

export interface FireResult {
  taskId?: string;
  /** Set when the fire failed (template or task creation). */
  error?: string;
}

/** Renders and creates; records the outcome in last fires. Never throws for template or queue errors. */
export async function fireHook(
  ctx: HooksContext,
  hook: db.HookRow,
  firedBy: FiredBy,
  payload: unknown,
  opts: { taskId?: string; now?: Date; clientId?: string } = {},
): Promise<FireResult> {
  const taskId = opts.taskId ?? slugid.nice();
  const now = opts.now ?? ctx.now();
  const context: Record<string, unknown> = { firedBy, taskId, now: now.toJSON(), payload };
  if (opts.clientId !== undefined) context.clientId = opts.clientId;
  let error: string | undefined;
  let created = false;
  try {
    const task = jsone(hook.task, context) as unknown;
    if (task === null) return {};
    if (typeof task !== 'object' || Array.isArray(task))
      throw new Error('hook template did not render to an object');
    await createTask(ctx, hook, taskId, task as Record<string, unknown>);
    created = true;
  } catch (err) {
    error = (err as Error).message ?? String(err);
    ctx.logger.info({ err, hookGroupId: hook.hookGroupId, hookId: hook.hookId }, 'hook fire failed');
  }
  await db.insertLastFire(
    ctx.database,
    {
      hookGroupId: hook.hookGroupId,
      hookId: hook.hookId,
      firedBy,
      taskId,
      taskCreateTime: ctx.now(),
      result: created ? 'success' : 'error',
      error: error ?? '',
    },
    new Date(ctx.now().getTime() + LAST_FIRE_TTL_MS),
  );
  return created ? { taskId } : { taskId, error };
}

async function createTask(
  ctx: HooksContext,
  hook: db.HookRow,
  taskId: string,
  task: Record<string, unknown>,
) {
  const client = ctx.config.staticClients.find((c) => c.clientId === HOOKS_CLIENT_ID);
  if (!client) throw new Error(`the hooks service needs the static client ${HOOKS_CLIENT_ID}`);
  const url = `${ctx.rootUrl()}/api/queue/v1/task/${encodeURIComponent(taskId)}`;
  const body = JSON.stringify(task);
  const ext = Buffer.from(
    JSON.stringify({ authorizedScopes: [`assume:hook-id:${hook.hookGroupId}/${hook.hookId}`] }),
  ).toString('base64');
  const { header } = hawk.client.header(url, 'PUT', {
    credentials: { id: client.clientId, key: client.accessToken, algorithm: 'sha256' },
    ext,
    timestamp: Math.floor(ctx.now().getTime() / 1000),
  });
  const res = await fetch(url, {
    method: 'PUT',
    headers: { authorization: header, 'content-type': 'application/json' },
    body,
  });
  if (!res.ok) {
    const text = await res.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {}
    throw new Error(`createTask failed (${res.status}): ${message}`);
  }
}
