import {
  type ExchangeDeclaration,
  routingKeyKindPart,
  type ServiceExchanges,
} from '../../platform/events/index.ts';
import { NotificationMessage } from './schemas.ts';

/** Longest topic of a notification (Taskcluster's limit). */
export const MAX_TOPIC_BYTES = 100;

export const notificationExchange: ExchangeDeclaration<typeof NotificationMessage> = {
  exchange: 'notification',
  name: 'notify',
  title: 'Notification Messages',
  description:
    'An arbitrary message published on request (`notify.pulse`), or the status of a task ' +
    'published for its `notify.pulse.<topic>.on-<event>` routes. CC: `route.<topic>`.',
  routingKey: [
    routingKeyKindPart,
    {
      name: 'topic',
      summary: 'Custom topic. This is the <topic> portion of the `notify.pulse.<topic>.on-<event>` routes.',
      maxSize: MAX_TOPIC_BYTES,
      multipleWords: true,
      required: true,
    },
  ],
  schema: NotificationMessage,
};

export const notifyExchanges = {
  serviceName: 'notify',
  projectName: 'taskcluster-notify',
  title: 'Notify AMQP Exchanges',
  description: 'The free-form messages this service publishes on request or for task routes.',
  exchanges: [notificationExchange],
} satisfies ServiceExchanges;
