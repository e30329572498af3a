import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { type ConsumeOptions, DEFAULT_PREFETCH, type DeliveredMessage, routesFromCC } from './bus.ts';

/**
 * One `consume()` registration. It survives connection loss: the bus calls
 * `attach()` again with each new connection, which re-declares the durable
 * queue and its bindings and resumes consuming.
 */
export class AmqpConsumer {
  private channel: Channel | null = null;
  private consumerTag: string | null = null;
  private attaching: Promise<void> | null = null;
  private closed = false;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly opts: ConsumeOptions,
    private readonly logger: Logger,
    private readonly redeliveryDelayMs: number,
    /** Called when the channel dies while the consumer should still run. */
    private readonly onLost: (consumer: AmqpConsumer) => void,
  ) {}

  get queueName(): string {
    return this.opts.queueName;
  }

  get isAttached(): boolean {
    return this.channel !== null;
  }

  /** Sets up queue, bindings and consumer on `conn`; a no-op if already attached or attaching. */
  attach(conn: ChannelModel): Promise<void> {
    if (this.closed || this.channel) {
      return Promise.resolve();
    }
    if (!this.attaching) {
      this.attaching = this.setup(conn).finally(() => {
        this.attaching = null;
      });
    }
    return this.attaching;
  }

  /** Forgets the channel after the connection dropped; the broker requeues whatever was unacknowledged. */
  detach(): void {
    this.channel = null;
    this.consumerTag = null;
  }

  private async setup(conn: ChannelModel): Promise<void> {
    const { queueName, bindings } = this.opts;
    const ch = await conn.createChannel();
    ch.on('error', (err) => this.logger.warn({ err, queueName }, 'AMQP consumer channel error'));
    ch.on('close', () => {
      if (this.channel === ch) {
        this.detach();
        if (!this.closed) {
          this.onLost(this);
        }
      }
    });
    try {
      await ch.prefetch(this.opts.prefetch ?? DEFAULT_PREFETCH);
      await ch.assertQueue(queueName, { durable: true });
      for (const binding of bindings) {
        // Consumers may start before any publisher declared the exchange; declaring is idempotent.
        await ch.assertExchange(binding.exchange, 'topic', { durable: true });
        await ch.bindQueue(queueName, binding.exchange, binding.pattern);
      }
      this.channel = ch;
      const { consumerTag } = await ch.consume(queueName, (msg) => this.onMessage(ch, msg), { noAck: false });
      this.consumerTag = consumerTag;
    } catch (err) {
      this.channel = null;
      await ch.close().catch(() => undefined);
      throw err;
    }
  }

  private onMessage(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled us (e.g. the queue was deleted); start over on a fresh channel.
      this.logger.warn({ queueName: this.opts.queueName }, 'AMQP consumer cancelled by broker');
      if (this.channel === ch) {
        this.detach();
        ch.close().catch(() => undefined);
        if (!this.closed) {
          this.onLost(this);
        }
      }
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(msg.content.toString('utf8'));
    } catch (err) {
      // Redelivering cannot fix a malformed body; drop it (dead-lettered if the queue has a DLX).
      this.logger.error(
        { err, queueName: this.opts.queueName, exchange: msg.fields.exchange },
        'non-JSON message',
      );
      this.settle(ch, () => ch.nack(msg, false, false));
      return;
    }
    const cc: unknown = msg.properties.headers?.CC;
    const delivered: DeliveredMessage = {
      exchange: msg.fields.exchange,
      routingKey: msg.fields.routingKey,
      routes: Array.isArray(cc) ? routesFromCC(cc) : [],
      payload,
      redelivered: msg.fields.redelivered,
      ...(typeof msg.properties.messageId === 'string' ? { messageId: msg.properties.messageId } : {}),
    };
    this.inFlight++;
    Promise.resolve()
      .then(() => this.opts.handler(delivered))
      .then(
        () => {
          this.settle(ch, () => ch.ack(msg));
          this.done();
        },
        (err) => {
          this.logger.warn(
            { err, queueName: this.opts.queueName, exchange: delivered.exchange },
            'handler failed',
          );
          // A short pause before requeueing keeps a persistently failing handler from spinning.
          setTimeout(() => {
            this.settle(ch, () => ch.nack(msg, false, true));
            this.done();
          }, this.redeliveryDelayMs);
        },
      );
  }

  private settle(ch: Channel, fn: () => void): void {
    if (this.channel !== ch) {
      return; // channel gone: the broker redelivers the message on its own
    }
    try {
      fn();
    } catch (err) {
      this.logger.warn({ err, queueName: this.opts.queueName }, 'could not settle message');
    }
  }

  private done(): void {
    this.inFlight--;
    if (this.inFlight === 0) {
      for (const resolve of this.idleWaiters.splice(0)) {
        resolve();
      }
    }
  }

  /** Stops deliveries, lets running handlers finish and settle, then closes the channel. */
  async close(): Promise<void> {
    this.closed = true;
    await this.attaching?.catch(() => undefined);
    const ch = this.channel;
    if (!ch) {
      return;
    }
    if (this.consumerTag) {
      await ch.cancel(this.consumerTag).catch(() => undefined);
      this.consumerTag = null;
    }
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    this.detach();
    await ch.close().catch(() => undefined);
  }
}
