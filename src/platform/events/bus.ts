import { topicMatches } from './topic.ts';

interface EventFields {
  exchange: string;
  routingKey: string;
  cc: string[];
  /** Unique id of the message (the relay sets `outbox-<row id>`); AMQP's `messageId` property. */
  messageId?: string;
}

/**
 * An event as the relay hands it to a bus: `cc` are full CC routing keys (`route.<route>`). The
 * body is either the payload itself or, as the relay reads it from the outbox, its JSON text
 * (`payloadJson`), which a bus that sends bytes sends as it is.
 */
export type EventMessage = EventFields &
  ({ payload: unknown; payloadJson?: undefined } | { payloadJson: string; payload?: undefined });

/** The message's body as JSON text. */
export const messageBody = (msg: EventMessage): string =>
  msg.payloadJson !== undefined ? msg.payloadJson : JSON.stringify(msg.payload);

/** A fresh copy of the message's payload (parsed from `payloadJson` when that is what it has). */
export const messagePayload = (msg: EventMessage): unknown =>
  msg.payloadJson !== undefined ? JSON.parse(msg.payloadJson) : structuredClone(msg.payload);

/** What consumers see; `routes` are the CC keys with the `route.` prefix stripped, as Pulse clients report them. */
export interface DeliveredMessage {
  exchange: string;
  routingKey: string;
  routes: string[];
  payload: unknown;
  redelivered: boolean;
  /** The publisher's message id, when it gave one (Taskyard's relay always does). */
  messageId?: string;
}

export interface Binding {
  exchange: string;
  pattern: string;
}

export interface ConsumeOptions {
  /** Durable queue name; consumers sharing it compete for messages. */
  queueName: string;
  bindings: Binding[];
  /** Unacknowledged messages in flight at once; default 10. */
  prefetch?: number;
  /** Resolve to acknowledge; reject to have the message redelivered later. Must be idempotent. */
  handler: (msg: DeliveredMessage) => Promise<void>;
}

export interface Consumer {
  close(): Promise<void>;
}

export interface EventBus {
  /** Resolves only when every message is confirmed; may reject with `PublishError`. */
  publish(messages: EventMessage[]): Promise<void>;
  consume(opts: ConsumeOptions): Promise<Consumer>;
  /**
   * Adds bindings to a durable queue, creating the queue if needed (messages matching them are
   * kept until consumed). Bindings already in place stay; binding twice is a no-op.
   */
  bindQueue(queueName: string, bindings: Binding[]): Promise<void>;
  /** Removes bindings from a queue; unknown bindings and a missing queue are fine. */
  unbindQueue(queueName: string, bindings: Binding[]): Promise<void>;
  /** Deletes a queue with its bindings and waiting messages (consumers on it stop); a missing queue is fine. */
  deleteQueue(queueName: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A publish that failed part-way. The first `confirmedCount` messages were
 * confirmed by the broker (the rest may or may not have been), so the relay
 * can forget exactly those and retry the remainder in order.
 */
export class PublishError extends Error {
  constructor(
    message: string,
    readonly confirmedCount: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'PublishError';
  }
}

export const DEFAULT_PREFETCH = 10;

/** Pulse semantics: a binding sees a message if the routing key or any CC key matches. */
export function bindingMatches(
  binding: Binding,
  msg: Pick<EventMessage, 'exchange' | 'routingKey' | 'cc'>,
): boolean {
  return (
    binding.exchange === msg.exchange &&
    (topicMatches(binding.pattern, msg.routingKey) ||
      msg.cc.some((key) => topicMatches(binding.pattern, key)))
  );
}

export function routesFromCC(cc: readonly unknown[]): string[] {
  return cc
    .filter((key): key is string => typeof key === 'string' && key.startsWith('route.'))
    .map((key) => key.slice('route.'.length));
}
