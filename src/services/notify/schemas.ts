/** Request and response bodies of the notify API (Taskcluster's `notify/v1` schemas). */
import { Type } from '@sinclair/typebox';

export const EmailRequest = Type.Object(
  {
    address: Type.String({ format: 'email', description: 'E-mail address to send the message to.' }),
    subject: Type.String({ minLength: 1, maxLength: 255, description: 'Subject line (plain text).' }),
    content: Type.String({
      minLength: 1,
      maxLength: 102400,
      description: 'Content as markdown: sent as it is (text part) and rendered to HTML (HTML part).',
    }),
    link: Type.Optional(
      Type.Object(
        {
          text: Type.String({ minLength: 1, maxLength: 40, description: 'Text of the link.' }),
          href: Type.String({ minLength: 1, maxLength: 1024, format: 'uri', description: 'Its target.' }),
        },
        { additionalProperties: false, description: 'A link shown as a button in the HTML part.' },
      ),
    ),
    replyTo: Type.Optional(Type.String({ format: 'email', description: 'Reply-to address.' })),
    template: Type.Optional(
      Type.Union([Type.Literal('simple'), Type.Literal('fullscreen')], {
        default: 'simple',
        description: 'HTML layout of the email.',
      }),
    ),
  },
  { $id: 'email-request', additionalProperties: false, title: 'Send Email Request' },
);

export const PulseRequest = Type.Object(
  {
    routingKey: Type.String({ maxLength: 255, description: 'Routing key (topic) of the message.' }),
    message: Type.Object({}, { additionalProperties: true, description: 'The message to publish.' }),
  },
  { $id: 'pulse-request', additionalProperties: false, title: 'Post Pulse Message Request' },
);

export const MatrixRequest = Type.Object(
  {
    roomId: Type.String({ description: 'The room, e.g. `!whDRjjSmICCgrhFHsQ:example.org`.' }),
    body: Type.String({ description: 'Plain-text body.' }),
    format: Type.Optional(
      Type.String({ description: 'Format of formattedBody, e.g. `org.matrix.custom.html`.' }),
    ),
    formattedBody: Type.Optional(Type.String({ description: 'Body in `format`.' })),
    msgtype: Type.Optional(
      Type.Union([Type.Literal('m.notice'), Type.Literal('m.text'), Type.Literal('m.emote')], {
        default: 'm.notice',
      }),
    ),
  },
  { $id: 'matrix-request', additionalProperties: false, title: 'Send Matrix Notice Request' },
);

export const SlackRequest = Type.Object(
  {
    channelId: Type.String({ description: 'The Slack channel id, e.g. `C123456GZ`.' }),
    text: Type.String({ description: 'Message text (the fallback text when blocks are given).' }),
    blocks: Type.Optional(Type.Array(Type.Unknown(), { description: 'Slack layout blocks.' })),
    attachments: Type.Optional(Type.Array(Type.Unknown(), { description: 'Slack attachments.' })),
    unfurlLinks: Type.Optional(Type.Boolean({ default: false })),
    unfurlMedia: Type.Optional(Type.Boolean({ default: false })),
  },
  { $id: 'slack-request', additionalProperties: false, title: 'Send Slack Message' },
);

const IrcMessage = Type.String({ minLength: 1, maxLength: 510, description: 'Plain-text message.' });
export const IrcRequest = Type.Union(
  [
    Type.Object(
      { channel: Type.String({ pattern: '^[#&][^ ,\\u0007]{1,199}$' }), message: IrcMessage },
      { additionalProperties: false, title: 'Channel Message' },
    ),
    Type.Object(
      {
        user: Type.String({
          minLength: 1,
          maxLength: 255,
          pattern: '^[A-Za-z\\[\\]\\\\~_\\^{|}][A-Za-z0-9\\-\\[\\]\\\\~_\\^{|}]{0,254}$',
        }),
        message: IrcMessage,
      },
      { additionalProperties: false, title: 'Private Message' },
    ),
  ],
  { $id: 'irc-request', title: 'Post IRC Message Request' },
);

export const NOTIFICATION_TYPES = [
  'email',
  'pulse',
  'matrix-room',
  'slack-channel',
  'irc-user',
  'irc-channel',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

const notificationAddressFields = {
  notificationType: Type.Union(
    NOTIFICATION_TYPES.map((t) => Type.Literal(t)),
    { description: 'The channel.' },
  ),
  notificationAddress: Type.String({ description: 'Address, routing key, room, channel or user.' }),
};

export const NotificationAddress = Type.Object(notificationAddressFields, {
  $id: 'notification-address',
  additionalProperties: false,
  title: 'Notification Type And Address',
});

export const NotificationAddressList = Type.Object(
  {
    addresses: Type.Array(Type.Object(notificationAddressFields, { additionalProperties: false })),
    continuationToken: Type.Optional(Type.String()),
  },
  { $id: 'notification-address-list', additionalProperties: false, title: 'List of notification addresses' },
);

export const PageQuery = Type.Object({
  continuationToken: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const NotificationMessage = Type.Object(
  {
    version: Type.Optional(Type.Literal(1)),
    message: Type.Object({}, { additionalProperties: true, description: 'Arbitrary message.' }),
  },
  { $id: 'notification-message', additionalProperties: false, title: 'Notification Message' },
);
