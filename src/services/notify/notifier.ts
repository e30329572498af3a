/**
 * Sending one notification on one channel, shared by the API and the event handlers: the
 * denylist, the email rate limit and the "channel not configured" check live here.
 */
import type { Logger } from 'pino';
import type { Config } from '../../platform/config.ts';
import type { Database, Queryable } from '../../platform/db/index.ts';
import { enqueueEvent } from '../../platform/events/index.ts';
import * as db from './db.ts';
import { type EmailMessage, type EmailTransport, PermanentSendError, renderMail } from './email.ts';
import { notificationExchange, notifyExchanges } from './events.ts';
import { IrcError } from './irc.ts';
import type { MatrixMessage, MatrixSender } from './matrix.ts';
import type { SlackMessage, SlackSender } from './slack.ts';

/** What notify needs of an IRC connection (implemented by irc.ts). */
export interface IrcSender {
  sendToChannel(channel: string, message: string): Promise<void>;
  sendToUser(nick: string, message: string): Promise<void>;
  close(): Promise<void>;
}

export interface NotifyChannels {
  email?: EmailTransport;
  slack?: SlackSender;
  matrix?: MatrixSender;
  irc?: IrcSender;
}

export interface NotifyContext {
  database: Database;
  logger: Logger;
  now: () => Date;
  config: Config;
  rootUrl: () => string;
  channels: NotifyChannels;
  /** The From of emails. */
  sender: string;
}

/** Sent, or not sent for a reason that is not an error of the sender. */
export type Outcome = 'sent' | 'denylisted' | 'rate-limited';

/** The channel has no configuration in this deployment. */
export class ChannelNotConfigured extends Error {
  override name = 'ChannelNotConfigured';
  constructor(
    readonly channel: string,
    settings: string,
  ) {
    super(`${channel} notifications are not configured in this deployment: set ${settings}`);
  }
}

export const CHANNEL_SETTINGS = {
  email: 'smtpUrl (TASKYARD_SMTP_URL) or smtpHost (TASKYARD_SMTP_HOST)',
  slack: 'slackAccessToken (TASKYARD_SLACK_ACCESS_TOKEN)',
  matrix: 'matrixBaseUrl (TASKYARD_MATRIX_BASE_URL) and matrixAccessToken (TASKYARD_MATRIX_ACCESS_TOKEN)',
  irc: 'ircServer (TASKYARD_IRC_SERVER) and ircNick (TASKYARD_IRC_NICK)',
} as const;

export async function sendEmail(ctx: NotifyContext, msg: EmailMessage): Promise<Outcome> {
  if (await db.isDenied(ctx.database, 'email', msg.address)) return 'denylisted';
  const transport = ctx.channels.email;
  if (!transport) throw new ChannelNotConfigured('email', CHANNEL_SETTINGS.email);
  const reservation = await db.reserveEmail(
    ctx.database,
    msg.address,
    ctx.now(),
    ctx.config.notifyEmailRateLimit,
    ctx.config.notifyEmailRateWindowSeconds * 1000,
  );
  if (reservation === undefined) return 'rate-limited';
  try {
    await transport.send(renderMail(msg, ctx.sender));
  } catch (err) {
    await db.cancelEmailReservation(ctx.database, reservation);
    throw err;
  }
  ctx.logger.info({ address: msg.address }, 'sent email');
  return 'sent';
}

/** Publishes on the notification exchange in the caller's transaction (delivered on commit). */
export async function publishPulse(
  ctx: NotifyContext,
  tx: Queryable,
  routingKey: string,
  message: Record<string, unknown>,
): Promise<Outcome> {
  if (await db.isDenied(tx, 'pulse', routingKey)) return 'denylisted';
  await enqueueEvent(
    tx,
    notifyExchanges,
    notificationExchange,
    { version: 1, message },
    { topic: routingKey },
    [`route.${routingKey}`],
  );
  ctx.logger.debug({ routingKey }, 'published pulse message');
  return 'sent';
}

export async function sendSlack(ctx: NotifyContext, msg: SlackMessage): Promise<Outcome> {
  if (await db.isDenied(ctx.database, 'slack-channel', msg.channelId)) return 'denylisted';
  const slack = ctx.channels.slack;
  if (!slack) throw new ChannelNotConfigured('slack', CHANNEL_SETTINGS.slack);
  await slack.postMessage(msg);
  ctx.logger.info({ channelId: msg.channelId }, 'posted slack message');
  return 'sent';
}

export async function sendMatrix(ctx: NotifyContext, msg: MatrixMessage, txnId: string): Promise<Outcome> {
  if (await db.isDenied(ctx.database, 'matrix-room', msg.roomId)) return 'denylisted';
  const matrix = ctx.channels.matrix;
  if (!matrix) throw new ChannelNotConfigured('matrix', CHANNEL_SETTINGS.matrix);
  await matrix.sendMessage(msg, txnId);
  ctx.logger.info({ roomId: msg.roomId }, 'sent matrix message');
  return 'sent';
}

export type IrcTarget = { channel: string; user?: undefined } | { user: string; channel?: undefined };

export async function sendIrc(ctx: NotifyContext, target: IrcTarget, message: string): Promise<Outcome> {
  const [type, address] =
    target.channel !== undefined
      ? (['irc-channel', target.channel] as const)
      : (['irc-user', target.user] as const);
  if (await db.isDenied(ctx.database, type, address)) return 'denylisted';
  const irc = ctx.channels.irc;
  if (!irc) throw new ChannelNotConfigured('irc', CHANNEL_SETTINGS.irc);
  // One IRC line: newlines would start new commands.
  const line = message.replace(/[\r\n]+/g, ' ').slice(0, 510);
  try {
    if (target.channel !== undefined) await irc.sendToChannel(target.channel, line);
    else await irc.sendToUser(target.user, line);
  } catch (err) {
    // Bad names, unknown nicks and channels that cannot be joined will not pass by retrying.
    if (err instanceof IrcError && !err.retryable) throw new PermanentSendError(err.message, { cause: err });
    throw err;
  }
  ctx.logger.info({ [type]: address }, 'sent irc message');
  return 'sent';
}
