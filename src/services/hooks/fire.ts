/** Firing a hook: render its JSON-e template and create the task through the queue's HTTP API. */
import jsone from 'json-e';
import type { Logger } from 'pino';
import slugid from 'slugid';
import type { Config } from '../../platform/config.ts';
import type { Database, Queryable } from '../../platform/db/index.ts';
import * as db from './db.ts';
import { sendFailureEmail } from './failure-email.ts';
import { signedRequest } from './signed-fetch.ts';

export { HOOKS_CLIENT_ID } from './signed-fetch.ts';

/** How long a fire stays in last fires (as upstream: a year). */
export const LAST_FIRE_TTL_MS = 365 * 24 * 3600e3;

export interface HooksContext {
  database: Database;
  logger: Logger;
  now: () => Date;
  config: Config;
  /** The root URL of the deployment (where the queue and notify are). */
  rootUrl: () => string;
}

export type FiredBy = 'schedule' | 'triggerHook' | 'triggerHookWithToken' | 'pulseMessage';

export interface FireResult {
  taskId?: string;
  /** Set when the fire failed (template or task creation). */
  error?: string;
  /** The fire failed for a reason that may pass (queue unreachable or 5xx) and was not recorded. */
  deferred?: boolean;
}

export interface FireOptions {
  taskId?: string;
  /** `now` of the JSON-e context and the task's default `created`. */
  now?: Date;
  clientId?: string;
  /** Where the last fire is recorded (the caller's transaction); default the database. */
  q?: Queryable;
  /** On a transient failure, record nothing and return `deferred` (the caller retries). */
  deferTransient?: boolean;
}

/** Owners are emailed about failures nobody else sees: fires not made by an API call. */
const EMAILED: ReadonlySet<FiredBy> = new Set(['schedule', 'pulseMessage']);

/**
 * Renders and creates; records the outcome in last fires and, for scheduled and pulse fires of
 * hooks with `metadata.emailOnError`, emails the owner about a failure. Never throws for template
 * or queue errors.
 */
export async function fireHook(
  ctx: HooksContext,
  hook: db.HookRow,
  firedBy: FiredBy,
  payload: unknown,
  opts: FireOptions = {},
): Promise<FireResult> {
  const taskId = opts.taskId ?? slugid.nice();
  const now = opts.now ?? ctx.now();
  const context: Record<string, unknown> = { firedBy, taskId, now: now.toJSON(), payload };
  if (opts.clientId !== undefined) context.clientId = opts.clientId;
  const log = ctx.logger.child({ hookGroupId: hook.hookGroupId, hookId: hook.hookId, taskId, firedBy });
  let error: string | undefined;
  try {
    const task = renderTask(hook.task, context, taskId, now);
    if (task === null) return {};
    const res = await signedRequest(ctx, 'PUT', `queue/v1/task/${encodeURIComponent(taskId)}`, task, [
      `assume:hook-id:${hook.hookGroupId}/${hook.hookId}`,
    ]);
    if (res.status >= 300) {
      error = `createTask failed (${res.status}): ${res.message}`;
      if (res.status >= 500 && opts.deferTransient) {
        log.warn({ status: res.status }, `hook fire deferred: ${error}`);
        return { taskId, error, deferred: true };
      }
    }
  } catch (err) {
    error = (err as Error).message ?? String(err);
    // Anything but a template problem is the queue being unreachable or slow.
    if (opts.deferTransient && !(err instanceof TemplateProblem)) {
      log.warn({ err }, `hook fire deferred: ${error}`);
      return { taskId, error, deferred: true };
    }
  }
  if (error !== undefined) log.info(`hook fire failed: ${error}`);
  await db.insertLastFire(
    opts.q ?? ctx.database,
    {
      hookGroupId: hook.hookGroupId,
      hookId: hook.hookId,
      firedBy,
      taskId,
      taskCreateTime: ctx.now(),
      result: error === undefined ? 'success' : 'error',
      error: error ?? '',
    },
    new Date(ctx.now().getTime() + LAST_FIRE_TTL_MS),
  );
  if (error === undefined) return { taskId };
  if (EMAILED.has(firedBy) && hook.metadata.emailOnError !== false) {
    await sendFailureEmail(ctx, hook, firedBy, taskId, error);
  }
  return { taskId, error };
}

/** A template that cannot produce a task: retrying the same fire cannot help. */
export class TemplateProblem extends Error {
  override name = 'TemplateProblem';
}

/**
 * Renders the template; fills `created` (`now`), `deadline` (a day later), `expires` (a month
 * later) and `taskGroupId` (the taskId) when the template leaves them out, as upstream does.
 * Null means "no task".
 */
export function renderTask(
  template: Record<string, unknown>,
  context: Record<string, unknown>,
  taskId: string,
  now: Date,
): Record<string, unknown> | null {
  let task: unknown;
  try {
    task = jsone(template, context);
  } catch (err) {
    throw new TemplateProblem(`JSON-e template error: ${String(err)}`, { cause: err });
  }
  if (task === null) return null;
  if (typeof task !== 'object' || Array.isArray(task)) {
    throw new TemplateProblem('the hook template did not render to an object (or null)');
  }
  const t = task as Record<string, unknown>;
  t.created ??= now.toJSON();
  t.deadline ??= new Date(now.getTime() + 24 * 3600e3).toJSON();
  t.expires ??= addMonth(now).toJSON();
  t.taskGroupId ??= taskId;
  return t;
}

function addMonth(d: Date): Date {
  const r = new Date(d);
  r.setUTCMonth(r.getUTCMonth() + 1);
  return r;
}
