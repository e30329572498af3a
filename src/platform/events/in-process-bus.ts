import pino, { type Logger } from 'pino';
import {
  type Binding,
  bindingMatches,
  type ConsumeOptions,
  type Consumer,
  DEFAULT_PREFETCH,
  type DeliveredMessage,
  type EventBus,
  type EventMessage,
  messagePayload,
  routesFromCC,
} from './bus.ts';

export interface InProcessBusOptions {
  logger?: Logger;
  /** Delay before a message whose handler failed is offered again; default 100 ms, doubling per failure up to 5 s. */
  redeliveryDelayMs?: number;
}

interface Pending {
  msg: EventMessage;
  redelivered: boolean;
  failures: number;
}

interface ActiveConsumer {
  handler: ConsumeOptions['handler'];
  prefetch: number;
}

/** A named queue that outlives its consumers, like a durable AMQP queue (but only in memory). */
class MemoryQueue {
  readonly bindings: Binding[] = [];
  readonly ready: Pending[] = [];
  consumer: ActiveConsumer | null = null;
  inFlight = 0;
  readonly timers = new Set<NodeJS.Timeout>();
  readonly idleWaiters: Array<() => void> = [];

  constructor(readonly name: string) {}

  bind(binding: Binding): void {
    if (!this.bindings.some((b) => b.exchange === binding.exchange && b.pattern === binding.pattern)) {
      this.bindings.push(binding);
    }
  }

  unbind(binding: Binding): void {
    const i = this.bindings.findIndex(
      (b) => b.exchange === binding.exchange && b.pattern === binding.pattern,
    );
    if (i !== -1) {
      this.bindings.splice(i, 1);
    }
  }

  accepts(msg: EventMessage): boolean {
    return this.bindings.some((b) => bindingMatches(b, msg));
  }
}

/**
 * Event bus for single-process (embedded) mode. Delivery is at-least-once
 * within the process: a message is acknowledged only after its handler
 * resolves, and a failed handler gets the message again later with
 * `redelivered: true`. Messages do not survive a restart; durability comes
 * from the outbox, which the relay only clears after `publish` resolved.
 */
export class InProcessBus implements EventBus {
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly logger: Logger;
  private readonly redeliveryDelayMs: number;
  private closed = false;

  constructor(opts: InProcessBusOptions = {}) {
    this.logger = opts.logger ?? pino({ enabled: false });
    this.redeliveryDelayMs = opts.redeliveryDelayMs ?? 100;
  }

  async publish(messages: EventMessage[]): Promise<void> {
    if (this.closed) {
      throw new Error('InProcessBus is closed');
    }
    for (const msg of messages) {
      for (const queue of this.queues.values()) {
        // Like RabbitMQ: one copy per queue however many bindings or CC keys match.
        if (queue.accepts(msg)) {
          // Each queue gets its own copy so one consumer mutating a payload cannot affect another.
          const copy: EventMessage = {
            exchange: msg.exchange,
            routingKey: msg.routingKey,
            cc: [...msg.cc],
            payload: messagePayload(msg),
            ...(msg.messageId !== undefined ? { messageId: msg.messageId } : {}),
          };
          queue.ready.push({ msg: copy, redelivered: false, failures: 0 });
        }
      }
    }
    for (const queue of this.queues.values()) {
      this.dispatch(queue);
    }
  }

  async consume(opts: ConsumeOptions): Promise<Consumer> {
    if (this.closed) {
      throw new Error('InProcessBus is closed');
    }
    const queue = this.queueNamed(opts.queueName);
    if (queue.consumer) {
      throw new Error(`queue ${opts.queueName} already has a consumer in this process`);
    }
    for (const binding of opts.bindings) {
      queue.bind(binding);
    }
    const consumer: ActiveConsumer = { handler: opts.handler, prefetch: opts.prefetch ?? DEFAULT_PREFETCH };
    queue.consumer = consumer;
    this.dispatch(queue);
    const q = queue;
    return {
      close: async () => {
        if (q.consumer === consumer) {
          q.consumer = null;
        }
        // Wait for in-flight handlers so close() means "no handler of mine is running".
        await this.waitForInFlight(q);
      },
    };
  }

  async bindQueue(queueName: string, bindings: Binding[]): Promise<void> {
    if (this.closed) {
      throw new Error('InProcessBus is closed');
    }
    const queue = this.queueNamed(queueName);
    for (const binding of bindings) {
      queue.bind(binding);
    }
  }

  async unbindQueue(queueName: string, bindings: Binding[]): Promise<void> {
    const queue = this.queues.get(queueName);
    for (const binding of bindings) {
      queue?.unbind(binding);
    }
  }

  async deleteQueue(queueName: string): Promise<void> {
    const queue = this.queues.get(queueName);
    if (!queue) {
      return;
    }
    // Like AMQP: the queue's consumer is cancelled and its messages are gone; a handler already
    // running finishes (its acknowledgement goes nowhere).
    this.queues.delete(queueName);
    queue.consumer = null;
    queue.ready.length = 0;
    for (const timer of queue.timers) {
      clearTimeout(timer);
    }
    queue.timers.clear();
  }

  private queueNamed(name: string): MemoryQueue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new MemoryQueue(name);
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Resolves when no message is waiting or being handled in any queue that has a consumer. */
  async waitIdle(): Promise<void> {
    for (;;) {
      const busy = [...this.queues.values()].find(
        (q) => q.inFlight > 0 || (q.consumer !== null && (q.ready.length > 0 || q.timers.size > 0)),
      );
      if (!busy) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const queue of this.queues.values()) {
      queue.consumer = null;
      for (const timer of queue.timers) {
        clearTimeout(timer);
      }
      queue.timers.clear();
    }
    await Promise.all([...this.queues.values()].map((q) => this.waitForInFlight(q)));
  }

  private waitForInFlight(queue: MemoryQueue): Promise<void> {
    if (queue.inFlight === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => queue.idleWaiters.push(resolve));
  }

  private dispatch(queue: MemoryQueue): void {
    const consumer = queue.consumer;
    while (
      consumer &&
      queue.consumer === consumer &&
      queue.inFlight < consumer.prefetch &&
      queue.ready.length > 0
    ) {
      const pending = queue.ready.shift()!;
      queue.inFlight++;
      const delivered: DeliveredMessage = {
        exchange: pending.msg.exchange,
        routingKey: pending.msg.routingKey,
        routes: routesFromCC(pending.msg.cc),
        payload: pending.msg.payload,
        redelivered: pending.redelivered,
        ...(pending.msg.messageId !== undefined ? { messageId: pending.msg.messageId } : {}),
      };
      // Deferred so a handler never runs inside publish()'s caller (the relay's transaction).
      setImmediate(() => {
        Promise.resolve()
          .then(() => consumer.handler(delivered))
          .then(
            () => this.settle(queue),
            (err) => {
              this.logger.warn(
                { err, queue: queue.name, exchange: delivered.exchange },
                'handler failed; redelivering',
              );
              this.requeueLater(queue, pending);
              this.settle(queue);
            },
          );
      });
    }
  }

  private settle(queue: MemoryQueue): void {
    queue.inFlight--;
    if (queue.inFlight === 0) {
      for (const resolve of queue.idleWaiters.splice(0)) {
        resolve();
      }
    }
    this.dispatch(queue);
  }

  private requeueLater(queue: MemoryQueue, pending: Pending): void {
    if (this.closed || this.queues.get(queue.name) !== queue) {
      return;
    }
    pending.failures++;
    pending.redelivered = true;
    const delay = Math.min(5000, this.redeliveryDelayMs * 2 ** (pending.failures - 1));
    const timer = setTimeout(() => {
      queue.timers.delete(timer);
      // Back at the head, as RabbitMQ requeues a rejected message at its original position when it can.
      queue.ready.unshift(pending);
      this.dispatch(queue);
    }, delay);
    queue.timers.add(timer);
  }
}
