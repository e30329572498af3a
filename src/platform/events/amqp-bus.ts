import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import pino, { type Logger } from 'pino';
import { AmqpConsumer } from './amqp-consumer.ts';
import {
  type Binding,
  type ConsumeOptions,
  type Consumer,
  type EventBus,
  type EventMessage,
  messageBody,
  PublishError,
} from './bus.ts';

/** AMQP's NOT_FOUND reply code (missing queue or exchange); it closes the channel. */
const AMQP_NOT_FOUND = 404;

export interface AmqpBusOptions {
  logger?: Logger;
  /** First reconnect delay; doubles per failed attempt (with jitter) up to `reconnectMaxDelayMs`. */
  reconnectMinDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** Pause before a message whose handler failed is requeued; default 100 ms. */
  redeliveryDelayMs?: number;
  /** A publish not confirmed within this time fails so the relay can retry; default 30 s. */
  publishTimeoutMs?: number;
}

/**
 * Event bus on RabbitMQ with Pulse's conventions: durable topic exchanges,
 * persistent JSON messages, routes as CC routing keys (kept in the `CC`
 * header for consumers), publisher confirms, manual acks. Reconnects on its
 * own; consumers resume, while a publish during an outage rejects at once
 * so the outbox keeps the events for a later attempt.
 */
export class AmqpBus implements EventBus {
  private conn: ChannelModel | null = null;
  private pubChannel: Promise<ConfirmChannel> | null = null;
  private readonly asserted = new Set<string>();
  private readonly consumers = new Set<AmqpConsumer>();
  private readonly logger: Logger;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectAttempts = 0;
  private readonly minDelay: number;
  private readonly maxDelay: number;

  private constructor(
    private readonly url: string,
    private readonly opts: AmqpBusOptions,
  ) {
    this.logger = opts.logger ?? pino({ enabled: false });
    this.minDelay = opts.reconnectMinDelayMs ?? 100;
    this.maxDelay = opts.reconnectMaxDelayMs ?? 10_000;
  }

  /** Connects once up front so a wrong URL or credentials fail at startup rather than in the background. */
  static async connect(url: string, opts: AmqpBusOptions = {}): Promise<AmqpBus> {
    const bus = new AmqpBus(url, opts);
    await bus.open();
    return bus;
  }

  /** True while a connection to the broker is up. */
  get connected(): boolean {
    return this.conn !== null;
  }

  private async open(): Promise<void> {
    const conn = await amqp.connect(this.url);
    if (this.closed) {
      await conn.close().catch(() => undefined);
      return;
    }
    conn.on('error', (err) => this.logger.warn({ err }, 'AMQP connection error'));
    conn.on('close', (err?: Error) => this.onDisconnect(conn, err));
    conn.on('blocked', (reason) => this.logger.warn({ reason }, 'AMQP connection blocked by broker'));
    conn.on('unblocked', () => this.logger.info('AMQP connection unblocked'));
    this.conn = conn;
    this.pubChannel = null;
    // After a broker restart non-durable state is gone; re-declaring is cheap and idempotent.
    this.asserted.clear();
    await Promise.all([...this.consumers].map((c) => this.attachConsumer(c, conn)));
  }

  private onDisconnect(conn: ChannelModel, err: Error | undefined): void {
    if (this.conn !== conn) {
      return;
    }
    this.conn = null;
    this.pubChannel = null;
    for (const consumer of this.consumers) {
      consumer.detach();
    }
    if (!this.closed) {
      this.logger.warn({ err }, 'AMQP connection lost; reconnecting');
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) {
      return;
    }
    const base = Math.min(this.maxDelay, this.minDelay * 2 ** this.reconnectAttempts);
    this.reconnectAttempts++;
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open().then(
        () => {
          this.reconnectAttempts = 0;
          this.logger.info('AMQP connection re-established');
        },
        (err) => {
          this.logger.warn({ err }, 'AMQP reconnect failed');
          this.scheduleReconnect();
        },
      );
    }, delay);
  }

  private async attachConsumer(consumer: AmqpConsumer, conn: ChannelModel): Promise<void> {
    try {
      await consumer.attach(conn);
    } catch (err) {
      this.logger.error({ err, queueName: consumer.queueName }, 'AMQP consumer setup failed; retrying');
      this.retryConsumer(consumer);
    }
  }

  /** A consumer lost its channel while the connection may still be up (queue deleted, channel error). */
  private retryConsumer(consumer: AmqpConsumer): void {
    setTimeout(() => {
      if (this.closed || !this.consumers.has(consumer) || consumer.isAttached) {
        return;
      }
      // Without a connection the reconnect path attaches every consumer.
      if (this.conn) {
        void this.attachConsumer(consumer, this.conn);
      }
    }, this.maxDelay / 10).unref();
  }

  private publishChannel(conn: ChannelModel): Promise<ConfirmChannel> {
    if (!this.pubChannel) {
      const created = conn.createConfirmChannel().then((ch) => {
        ch.on('error', (err) => this.logger.warn({ err }, 'AMQP publish channel error'));
        ch.on('close', () => {
          if (this.pubChannel === created) {
            this.pubChannel = null;
          }
        });
        return ch;
      });
      created.catch(() => {
        if (this.pubChannel === created) {
          this.pubChannel = null;
        }
      });
      this.pubChannel = created;
    }
    return this.pubChannel;
  }

  async publish(messages: EventMessage[]): Promise<void> {
    if (this.closed) {
      throw new PublishError('AmqpBus is closed', 0);
    }
    if (messages.length === 0) {
      return;
    }
    const conn = this.conn;
    if (!conn) {
      throw new PublishError('not connected to the AMQP broker', 0);
    }
    let ch: ConfirmChannel;
    try {
      ch = await this.publishChannel(conn);
      for (const exchange of new Set(messages.map((m) => m.exchange))) {
        if (!this.asserted.has(exchange)) {
          await ch.assertExchange(exchange, 'topic', { durable: true, internal: false, autoDelete: false });
          this.asserted.add(exchange);
        }
      }
    } catch (err) {
      throw new PublishError(`AMQP publish failed: ${(err as Error).message}`, 0, { cause: err });
    }
    await this.publishConfirmed(ch, messages);
  }

  /** Publishes all messages pipelined, then waits for every confirm; reports the confirmed prefix on failure. */
  private async publishConfirmed(ch: ConfirmChannel, messages: EventMessage[]): Promise<void> {
    const state: Array<'pending' | 'ok' | Error> = messages.map(() => 'pending');
    let remaining = messages.length;
    let timer: NodeJS.Timeout | undefined;
    const outcome = new Promise<void>((resolve) => {
      const settle = (i: number, result: 'ok' | Error) => {
        if (state[i] !== 'pending') {
          return;
        }
        state[i] = result;
        if (--remaining === 0) {
          resolve();
        }
      };
      timer = setTimeout(resolve, this.opts.publishTimeoutMs ?? 30_000);
      for (let i = 0; i < messages.length; i++) {
        const msg = messages[i];
        try {
          ch.publish(
            msg.exchange,
            msg.routingKey,
            Buffer.from(messageBody(msg), 'utf8'),
            {
              persistent: true,
              contentType: 'application/json',
              contentEncoding: 'utf-8',
              ...(msg.cc.length > 0 ? { CC: msg.cc } : {}),
              ...(msg.messageId !== undefined ? { messageId: msg.messageId } : {}),
            },
            (err) => settle(i, err ? (err instanceof Error ? err : new Error(String(err))) : 'ok'),
          );
        } catch (err) {
          // The channel is gone; later messages would fail the same way.
          for (let j = i; j < messages.length; j++) {
            settle(j, err as Error);
          }
          break;
        }
      }
    });
    await outcome;
    clearTimeout(timer);
    const firstFailure = state.findIndex((s) => s !== 'ok');
    if (firstFailure === -1) {
      return;
    }
    const failure = state[firstFailure];
    const cause = failure instanceof Error ? failure : new Error('broker did not confirm in time');
    throw new PublishError(
      `AMQP publish of ${messages.length} message(s) failed at #${firstFailure}: ${cause.message}`,
      firstFailure,
      { cause },
    );
  }

  async consume(opts: ConsumeOptions): Promise<Consumer> {
    if (this.closed) {
      throw new Error('AmqpBus is closed');
    }
    const consumer = new AmqpConsumer(opts, this.logger, this.opts.redeliveryDelayMs ?? 100, (c) =>
      this.retryConsumer(c),
    );
    this.consumers.add(consumer);
    if (this.conn) {
      try {
        // The first setup's errors go to the caller: a bad binding is a bug to see now.
        await consumer.attach(this.conn);
      } catch (err) {
        this.consumers.delete(consumer);
        await consumer.close();
        throw err;
      }
    }
    return {
      close: async () => {
        this.consumers.delete(consumer);
        await consumer.close();
      },
    };
  }

  async bindQueue(queueName: string, bindings: Binding[]): Promise<void> {
    await this.withChannel(async (ch) => {
      await ch.assertQueue(queueName, { durable: true });
      for (const binding of bindings) {
        // As for consumers: binding may come before any publisher declared the exchange.
        await ch.assertExchange(binding.exchange, 'topic', { durable: true });
        await ch.bindQueue(queueName, binding.exchange, binding.pattern);
      }
    });
  }

  async unbindQueue(queueName: string, bindings: Binding[]): Promise<void> {
    for (const binding of bindings) {
      // One channel per binding: a missing queue or exchange (nothing to unbind) closes the channel.
      await this.withChannel((ch) => ch.unbindQueue(queueName, binding.exchange, binding.pattern)).catch(
        (err: unknown) => {
          if ((err as { code?: unknown }).code !== AMQP_NOT_FOUND) {
            throw err;
          }
        },
      );
    }
  }

  async deleteQueue(queueName: string): Promise<void> {
    await this.withChannel((ch) => ch.deleteQueue(queueName)).catch((err: unknown) => {
      if ((err as { code?: unknown }).code !== AMQP_NOT_FOUND) {
        throw err;
      }
    });
  }

  /** Runs `fn` on a channel of its own, closed afterwards (a failed operation has closed it already). */
  private async withChannel<T>(fn: (ch: Channel) => Promise<T>): Promise<T> {
    if (this.closed) {
      throw new Error('AmqpBus is closed');
    }
    const conn = this.conn;
    if (!conn) {
      throw new Error('not connected to the AMQP broker');
    }
    const ch = await conn.createChannel();
    // A failing operation also emits 'error' on the channel; the rejected promise reports it.
    ch.on('error', () => undefined);
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    await Promise.all([...this.consumers].map((c) => c.close()));
    this.consumers.clear();
    const conn = this.conn;
    this.conn = null;
    if (conn) {
      await conn.close().catch(() => undefined);
    }
  }
}
