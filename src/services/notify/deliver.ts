/**
 * Sending the notifications of an event at least once and, barring a crash mid-send, exactly
 * once: each (event, route) is claimed in `notify_sends` before it is sent and marked after.
 * A redelivered event finds the mark and sends nothing. A sender that dies between the send and
 * the mark leaves a claim that another delivery takes over once the lease passes, and sends
 * again (a duplicate beats a lost failure notification). Pulse notifications are exact: the
 * message and the mark are written in one transaction.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import * as db from './db.ts';
import { PermanentSendError } from './email.ts';
import {
  ChannelNotConfigured,
  type NotifyContext,
  type Outcome,
  publishPulse,
  sendEmail,
  sendIrc,
  sendMatrix,
  sendSlack,
} from './notifier.ts';
import type { NotifyRoute } from './routes.ts';

/** How long a claim holds before another delivery may take the send over. */
export const SEND_LEASE_MS = 2 * 60 * 1000;

/** Another process is sending this notification now: the event should come back later. */
export class SendInProgress extends Error {
  override name = 'SendInProgress';
}

/** What to send on each channel, computed only when the send is claimed. */
export interface Messages {
  email(address: string): Parameters<typeof sendEmail>[1];
  slack(channelId: string): Parameters<typeof sendSlack>[1];
  matrix(roomId: string): Parameters<typeof sendMatrix>[1];
  irc(kind: 'irc-user' | 'irc-channel'): string;
  pulse(): Record<string, unknown>;
}

function sendOn(ctx: NotifyContext, route: NotifyRoute, messages: Messages, key: string): Promise<Outcome> {
  switch (route.type) {
    case 'email':
      return sendEmail(ctx, messages.email(route.target));
    case 'slack-channel':
      return sendSlack(ctx, messages.slack(route.target));
    case 'matrix-room':
      // The homeserver dedupes by transaction id: a send retried after a crash posts once.
      return sendMatrix(
        ctx,
        messages.matrix(route.target),
        createHash('sha256').update(key).digest('base64url'),
      );
    case 'irc-user':
      return sendIrc(ctx, { user: route.target }, messages.irc('irc-user'));
    case 'irc-channel': {
      const channel = /^[#&]/.test(route.target) ? route.target : `#${route.target}`;
      return sendIrc(ctx, { channel }, messages.irc('irc-channel'));
    }
    case 'pulse':
      throw new Error('pulse routes are sent transactionally');
  }
}

/**
 * Sends one route's notification unless it was sent for this key before. Throws only when the
 * event should be delivered again (a failure that may pass, or a send in progress elsewhere).
 */
export async function deliverOnce(
  ctx: NotifyContext,
  log: Logger,
  key: string,
  expires: Date,
  route: NotifyRoute,
  messages: Messages,
): Promise<void> {
  const rlog = log.child({ route: route.route });
  if (route.type === 'pulse') {
    await ctx.database.transaction(async (tx) => {
      const outcome = (await db.isDenied(tx, 'pulse', route.target)) ? 'denylisted' : 'sent';
      const fresh = await db.recordSendOnce(
        tx,
        key,
        expires,
        ctx.now(),
        outcome === 'sent' ? 'sent' : 'dropped',
        outcome === 'sent' ? null : outcome,
      );
      if (!fresh) return;
      if (outcome === 'sent') await publishPulse(ctx, tx, route.target, messages.pulse());
      else rlog.info('not publishing: the routing key is denylisted');
    });
    return;
  }
  const claim = await db.claimSend(ctx.database, key, expires, ctx.now(), SEND_LEASE_MS);
  if (claim === 'done') {
    rlog.debug('notification already sent (a redelivery)');
    return;
  }
  if (claim === 'busy') throw new SendInProgress(`notification ${key} is being sent by another process`);
  let outcome: Outcome;
  try {
    outcome = await sendOn(ctx, route, messages, key);
  } catch (err) {
    if (err instanceof ChannelNotConfigured) {
      rlog.info(`skipping the notification: ${err.message}`);
      await db.finishSend(ctx.database, key, 'dropped', 'not-configured');
      return;
    }
    if (err instanceof PermanentSendError) {
      rlog.warn({ err: err.message }, 'notification refused; not retrying');
      await db.finishSend(ctx.database, key, 'failed', err.message.slice(0, 1000));
      return;
    }
    await db.releaseSend(ctx.database, key);
    throw err;
  }
  if (outcome !== 'sent')
    rlog.info(`not sending the notification: ${route.type} ${route.target} is ${outcome}`);
  await db.finishSend(
    ctx.database,
    key,
    outcome === 'sent' ? 'sent' : 'dropped',
    outcome === 'sent' ? null : outcome,
  );
}

/** Delivers every route, then rethrows the first failure so the event comes back for the rest. */
export async function deliverAll(
  ctx: NotifyContext,
  log: Logger,
  items: Array<{ key: string; route: NotifyRoute }>,
  expires: Date,
  messages: Messages,
): Promise<void> {
  let failure: unknown;
  for (const { key, route } of items) {
    try {
      await deliverOnce(ctx, log, key, expires, route, messages);
    } catch (err) {
      log.warn({ route: route.route, err }, 'notification failed; it is retried when the event comes back');
      failure ??= err;
    }
  }
  if (failure) throw failure;
}
