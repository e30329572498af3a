/** The notify API: send on each channel, and manage the denylist. */
import { decodeContinuation, keysetPage, pageSize } from '../../platform/api/pagination.ts';
import { type EndpointContext, type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { ApiError } from '../../platform/errors.ts';
import * as db from './db.ts';
import { PermanentSendError } from './email.ts';
import { MAX_TOPIC_BYTES } from './events.ts';
import { MatrixForbiddenError } from './matrix.ts';
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
import {
  EmailRequest,
  IrcRequest,
  MatrixRequest,
  NotificationAddress,
  NotificationAddressList,
  type NotificationType,
  PageQuery,
  PulseRequest,
  SlackRequest,
} from './schemas.ts';

const NOTIFICATIONS = 'Notifications';
const DENYLIST = 'Denylist';

const NOT_SENT =
  'Answers 200 when the notification was sent, 400 `InputError` when the address is denylisted, ' +
  '501 `NotImplemented` when the channel is not configured in this deployment.';

/**
 * Runs a send and turns its outcome into the answer: 200 sent; denylisted → 400
 * `DenylistedAddress` (as Taskcluster); rate-limited → 429; channel missing → 501; a refusal of the
 * remote service → 400; a failure that may pass → 503.
 */
async function answer(
  ctx: EndpointContext<Record<string, string>, Record<string, unknown>, unknown>,
  what: string,
  send: () => Promise<Outcome>,
): Promise<undefined> {
  let outcome: Outcome;
  try {
    outcome = await send();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof ChannelNotConfigured) throw new ApiError('NotImplemented', err.message);
    if (err instanceof MatrixForbiddenError) {
      throw new ApiError(
        'InputError',
        `The Taskyard matrix user must be invited to the room first: ${err.message}`,
      );
    }
    if (err instanceof PermanentSendError) throw new ApiError('InputError', err.message);
    ctx.log.warn({ err }, `sending ${what} failed`);
    throw new ApiError(
      'ServiceUnavailable',
      `sending ${what} failed; try again later: ${(err as Error).message}`,
      {},
      {
        cause: err,
      },
    );
  }
  if (outcome === 'denylisted') {
    throw new ApiError('DenylistedAddress', `${what} is on the denylist: nothing was sent`);
  }
  if (outcome === 'rate-limited') {
    throw new ApiError('TooManyRequests', `${what} has had its share of emails for now; try again later`);
  }
  ctx.reply.status(200).send({});
  return undefined;
}

export function notifyEndpoints(ctx: NotifyContext): EndpointDeclaration[] {
  return [
    endpoint({
      name: 'email',
      method: 'post',
      route: '/email',
      scopes: 'notify:email:<address>',
      input: EmailRequest,
      title: 'Send an Email',
      description:
        'Send an email to `address`. The content is markdown: the text part carries it as written, ' +
        'the HTML part renders it (a safe subset, everything else escaped), with `link` as a button. ' +
        `At most ${ctx.config.notifyEmailRateLimit} emails per address per ${ctx.config.notifyEmailRateWindowSeconds} s: ` +
        `more answer 429. ${NOT_SENT}`,
      stability: 'experimental',
      category: NOTIFICATIONS,
      handler: async (req) => {
        req.authorize({ address: req.body.address });
        return answer(req, `Email ${req.body.address}`, () => sendEmail(ctx, req.body));
      },
    }),
    endpoint({
      name: 'pulse',
      method: 'post',
      route: '/pulse',
      scopes: 'notify:pulse:<routingKey>',
      input: PulseRequest,
      title: 'Publish a Pulse Message',
      description:
        'Publish `{message}` on `exchange/taskcluster-notify/v1/notification` with routing key ' +
        `\`primary.<routingKey>\` and CC \`route.<routingKey>\` (at most ${MAX_TOPIC_BYTES} bytes). ${NOT_SENT}`,
      stability: 'experimental',
      category: NOTIFICATIONS,
      handler: async (req) => {
        const { routingKey, message } = req.body;
        req.authorize({ routingKey });
        const problem =
          routingKey === ''
            ? 'is empty'
            : Buffer.byteLength(routingKey) > MAX_TOPIC_BYTES
              ? `is longer than ${MAX_TOPIC_BYTES} bytes`
              : routingKey.split('.').some((w) => w === '')
                ? 'has an empty word (leading, trailing or doubled dot)'
                : /[#*]/.test(routingKey)
                  ? 'contains # or * (binding wildcards)'
                  : undefined;
        if (problem) throw new ApiError('InputError', `routingKey ${JSON.stringify(routingKey)} ${problem}`);
        return answer(req, `Pulse routing key pattern ${routingKey}`, () =>
          ctx.database.transaction((tx) => publishPulse(ctx, tx, routingKey, message)),
        );
      },
    }),
    endpoint({
      name: 'matrix',
      method: 'post',
      route: '/matrix',
      scopes: 'notify:matrix-room:<roomId>',
      input: MatrixRequest,
      title: 'Post Matrix Message',
      description:
        'Post an `m.room.message` to a Matrix room (`roomId` with its leading `!`). The Taskyard ' +
        `matrix user must have been invited to the room. ${NOT_SENT}`,
      stability: 'experimental',
      category: NOTIFICATIONS,
      handler: async (req) => {
        req.authorize({ roomId: req.body.roomId });
        return answer(req, `Matrix room ${req.body.roomId}`, () =>
          sendMatrix(ctx, req.body, `taskyard-api-${crypto.randomUUID()}`),
        );
      },
    }),
    endpoint({
      name: 'slack',
      method: 'post',
      route: '/slack',
      scopes: 'notify:slack-channel:<channelId>',
      input: SlackRequest,
      title: 'Post Slack Message',
      description: `Post a message to a Slack channel (\`chat.postMessage\`). ${NOT_SENT}`,
      stability: 'experimental',
      category: NOTIFICATIONS,
      handler: async (req) => {
        req.authorize({ channelId: req.body.channelId });
        return answer(req, `Slack channel ${req.body.channelId}`, () => sendSlack(ctx, req.body));
      },
    }),
    endpoint({
      name: 'irc',
      method: 'post',
      route: '/irc',
      // biome-ignore lint/suspicious/noThenProperty: `then` is a branch of an {if, then, else} scope template
      scopes: { if: 'channelRequest', then: 'notify:irc-channel:<channel>', else: 'notify:irc-user:<user>' },
      input: IrcRequest,
      title: 'Post IRC Message',
      description:
        'Post a message on IRC to a `channel` (with its leading `#`) or a `user`. Beyond current ' +
        'Taskcluster (which dropped IRC): the endpoint of its earlier versions. Best effort: a user ' +
        `who is not online does not get it. ${NOT_SENT}`,
      stability: 'experimental',
      category: NOTIFICATIONS,
      handler: async (req) => {
        const body = req.body as { channel?: string; user?: string; message: string };
        req.authorize({ channelRequest: body.channel !== undefined, channel: body.channel, user: body.user });
        const target = body.channel !== undefined ? { channel: body.channel } : { user: body.user as string };
        return answer(req, `IRC address ${body.channel ?? body.user}`, () =>
          sendIrc(ctx, target, body.message),
        );
      },
    }),
    endpoint({
      name: 'addDenylistAddress',
      method: 'post',
      route: '/denylist/add',
      scopes: 'notify:manage-denylist',
      input: NotificationAddress,
      title: 'Denylist Given Address',
      description:
        'Add an address to the denylist: nothing is sent to it any more, by the API or for task ' +
        'routes. Adding one already there changes nothing.',
      stability: 'experimental',
      category: DENYLIST,
      handler: async (req) => {
        await db.addDenylistAddress(ctx.database, req.body.notificationType, req.body.notificationAddress);
        req.reply.status(200).send({});
        return undefined;
      },
    }),
    endpoint({
      name: 'deleteDenylistAddress',
      method: 'delete',
      route: '/denylist/delete',
      scopes: 'notify:manage-denylist',
      input: NotificationAddress,
      title: 'Delete Denylisted Address',
      description: 'Remove an address from the denylist (one that is not there is no error).',
      stability: 'experimental',
      category: DENYLIST,
      handler: async (req) => {
        await db.deleteDenylistAddress(ctx.database, req.body.notificationType, req.body.notificationAddress);
        req.reply.status(200).send({});
        return undefined;
      },
    }),
    endpoint({
      name: 'listDenylist',
      method: 'get',
      route: '/denylist/list',
      query: PageQuery,
      scopes: 'notify:manage-denylist',
      output: NotificationAddressList,
      title: 'List Denylisted Notifications',
      description:
        'The denylisted addresses by type and address, at most 1000 a page (`limit`), with a ' +
        '`continuationToken` when there are more.',
      stability: 'experimental',
      category: DENYLIST,
      handler: async (req) => {
        const limit = pageSize(req.query.limit);
        const after = decodeContinuation(
          req.query.continuationToken,
          (v): v is { type: string; address: string } =>
            typeof v.type === 'string' && typeof v.address === 'string',
        );
        const rows = await db.listDenylist(ctx.database, after, limit + 1);
        const { page, continuation } = keysetPage(rows, limit, (last) => ({
          type: last.notificationType,
          address: last.notificationAddress,
        }));
        return {
          addresses: page as Array<{ notificationType: NotificationType; notificationAddress: string }>,
          ...continuation,
        };
      },
    }),
  ];
}
