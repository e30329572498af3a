import type { Consumer } from '../../platform/events/index.ts';
import type { Service, ServiceOptions } from '../service.ts';
import { notifyEndpoints } from './api.ts';
import { createSmtpTransport, DEFAULT_SENDER, smtpConfigured } from './email.ts';
import { notifyExchanges } from './events.ts';
import { startExpiryLoop } from './expiry.ts';
import { handleGroupResolved, NOTIFY_GROUP_BINDINGS, NOTIFY_GROUP_QUEUE_NAME } from './group-events.ts';
import { createIrcSender } from './irc.ts';
import { createMatrixSender } from './matrix.ts';
import type { NotifyChannels, NotifyContext } from './notifier.ts';
import { createSlackSender } from './slack.ts';
import { handleTaskEvent, NOTIFY_TASK_BINDINGS, NOTIFY_TASK_QUEUE_NAME } from './task-events.ts';

export { expireNotify } from './expiry.ts';
export { handleGroupResolved } from './group-events.ts';
export type { NotifyChannels, NotifyContext } from './notifier.ts';
export { handleTaskEvent } from './task-events.ts';

/** The channels the configuration describes (each absent when its settings are not given). */
export function channelsFromConfig(opts: ServiceOptions): NotifyChannels {
  const { config } = opts;
  const channels: NotifyChannels = {};
  if (smtpConfigured(config)) channels.email = createSmtpTransport(config);
  if (config.slackAccessToken) {
    channels.slack = createSlackSender({ token: config.slackAccessToken, apiUrl: config.slackApiUrl });
  }
  if (config.matrixBaseUrl && config.matrixAccessToken) {
    channels.matrix = createMatrixSender({
      baseUrl: config.matrixBaseUrl,
      accessToken: config.matrixAccessToken,
    });
  }
  if (config.ircServer && config.ircNick) {
    channels.irc = createIrcSender(
      {
        server: config.ircServer,
        port: config.ircPort ?? (config.ircTls ? 6697 : 6667),
        nick: config.ircNick,
        tls: config.ircTls,
        password: config.ircPassword,
      },
      opts.logger.child({ channel: 'irc' }),
    );
  }
  return channels;
}

/**
 * The notify service: emails, pulse messages, Slack, Matrix and IRC messages on request, and
 * for task routes `notify.<type>.<target>.on-<event>` (with background loops on). `channels`
 * replaces configured channels (tests inject fakes this way).
 */
export function createNotifyService(opts: ServiceOptions, channels: Partial<NotifyChannels> = {}): Service {
  const ctx: NotifyContext = {
    database: opts.database,
    logger: opts.logger,
    now: opts.now,
    config: opts.config,
    rootUrl: opts.rootUrl,
    channels: {},
    sender: opts.config.emailSourceAddress ?? DEFAULT_SENDER,
  };
  let consumers: Consumer[] = [];
  let stopExpiry: (() => Promise<void>) | undefined;
  return {
    api: {
      serviceName: 'notify',
      title: 'Notification Service',
      description:
        'Sends notifications: emails, pulse messages and Slack, Matrix and IRC messages, on request ' +
        'or for task routes `notify.<type>.<target>.on-<event>` (see the notify documentation). ' +
        'Addresses on the denylist get nothing.',
      endpoints: notifyEndpoints(ctx),
    },
    exchanges: notifyExchanges,
    async start() {
      ctx.channels = { ...channelsFromConfig(opts), ...channels };
      if (!opts.backgroundLoops) return;
      consumers = [
        await opts.bus.consume({
          queueName: NOTIFY_TASK_QUEUE_NAME,
          bindings: NOTIFY_TASK_BINDINGS,
          handler: (msg) => handleTaskEvent(ctx, msg),
        }),
        await opts.bus.consume({
          queueName: NOTIFY_GROUP_QUEUE_NAME,
          bindings: NOTIFY_GROUP_BINDINGS,
          handler: (msg) => handleGroupResolved(ctx, msg),
        }),
      ];
      stopExpiry = startExpiryLoop(ctx);
    },
    async stop() {
      for (const consumer of consumers) await consumer.close();
      consumers = [];
      await stopExpiry?.();
      stopExpiry = undefined;
      await ctx.channels.email?.close();
      await ctx.channels.irc?.close();
      ctx.channels = {};
    },
  };
}
