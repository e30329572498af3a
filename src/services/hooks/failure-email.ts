/** The email to a hook's owner when a fire nobody asked for over the API fails. */
import type * as db from './db.ts';
import type { FiredBy, HooksContext } from './fire.ts';
import { signedRequest } from './signed-fetch.ts';

export function failureEmail(hook: db.HookRow, firedBy: FiredBy, taskId: string, error: string) {
  const id = `${hook.hookGroupId}/${hook.hookId}`;
  const how = firedBy === 'schedule' ? 'Scheduled' : 'Pulse-triggered';
  return {
    address: hook.metadata.owner,
    subject: `[Taskcluster Hooks] ${how} Hook failure: ${id}`,
    content: [
      `The hooks service could not create task ${taskId} for hook ${id}, of which you are listed as the owner.`,
      '',
      'The error was:',
      '',
      '```',
      error,
      '```',
      '',
      firedBy === 'schedule'
        ? 'The hook fires again at its next scheduled time.'
        : 'The message that triggered it will not be retried.',
      `Its recent fires: listLastFires of ${id}. To stop these emails, set metadata.emailOnError to false.`,
    ].join('\n'),
  };
}

/**
 * Sends the failure email through the notify service. Best effort: a notify that is not running,
 * refuses the address or fails is logged, and the fire goes on.
 */
export async function sendFailureEmail(
  ctx: HooksContext,
  hook: db.HookRow,
  firedBy: FiredBy,
  taskId: string,
  error: string,
): Promise<void> {
  const log = ctx.logger.child({ hookGroupId: hook.hookGroupId, hookId: hook.hookId, taskId });
  try {
    const res = await signedRequest(
      ctx,
      'POST',
      'notify/v1/email',
      failureEmail(hook, firedBy, taskId, error),
    );
    if (res.status >= 300) {
      log.warn(
        { status: res.status },
        `could not email the hook's owner about a failed fire: ${res.message}`,
      );
    }
  } catch (err) {
    log.warn({ err }, "could not email the hook's owner about a failed fire");
  }
}
