export { AmqpBus, type AmqpBusOptions } from './amqp-bus.ts';
export {
  type Binding,
  bindingMatches,
  type ConsumeOptions,
  type Consumer,
  DEFAULT_PREFETCH,
  type DeliveredMessage,
  type EventBus,
  type EventMessage,
  PublishError,
  routesFromCC,
} from './bus.ts';
export {
  buildRoutingKey,
  checkRoutingKeyDeclaration,
  checkServiceExchanges,
  defaultSchemaPath,
  type ExchangeDeclaration,
  type ExchangesReference,
  type ExchangesReferenceEntry,
  type ExchangesReferenceOptions,
  exchangeName,
  exchangePrefix,
  exchangesReference,
  MAX_ROUTING_KEY_BYTES,
  type RoutingKeyPart,
  type RoutingValue,
  type RoutingValues,
  reservedPart,
  routingKeyKindPart,
  routingKeyPattern,
  type ServiceExchanges,
} from './exchanges.ts';
export { InProcessBus, type InProcessBusOptions } from './in-process-bus.ts';
export {
  enqueueEvent,
  insertOutboxRows,
  OUTBOX_CHANNEL,
  type OutboxRow,
  outboxInsertSql,
  outboxRow,
  routesToCC,
} from './outbox.ts';
export { OutboxRelay, type OutboxRelayOptions } from './relay.ts';
export { topicMatches } from './topic.ts';
