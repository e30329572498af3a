/**
 * What the queue publishes, as a Pulse consumer sees it: a plain amqplib consumer (no Taskyard
 * code) on an exclusive queue bound to the queue's task-completed and task-group-resolved
 * exchanges on RabbitMQ. It records when each message arrived here.
 */
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { nowMs } from './queue-http.ts';

export const TASK_COMPLETED = 'exchange/taskcluster-queue/v1/task-completed';
export const TASK_GROUP_RESOLVED = 'exchange/taskcluster-queue/v1/task-group-resolved';

export class QueueEvents {
  /** taskId → arrival time (nowMs) of its first task-completed message. */
  readonly completed = new Map<string, number>();
  /** taskGroupId → arrival times of its task-group-resolved messages. */
  readonly groupResolved = new Map<string, number[]>();
  /** Messages that could not be read (not JSON, or without the fields the exchange promises). */
  readonly malformed: string[] = [];
  duplicates = 0;

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
  ) {}

  static async connect(url: string): Promise<QueueEvents> {
    const connection = await amqp.connect(url);
    try {
      const channel = await connection.createChannel();
      const q = await channel.assertQueue('', { exclusive: true, autoDelete: true });
      for (const exchange of [TASK_COMPLETED, TASK_GROUP_RESOLVED]) {
        // Declared as the server declares them, so that either may come up first.
        await channel.assertExchange(exchange, 'topic', { durable: true });
        await channel.bindQueue(q.queue, exchange, '#');
      }
      const events = new QueueEvents(connection, channel);
      await channel.consume(
        q.queue,
        (msg) => {
          if (!msg) return;
          const at = nowMs();
          let body: { status?: { taskId?: string }; taskGroupId?: string };
          try {
            body = JSON.parse(msg.content.toString('utf8'));
          } catch {
            events.malformed.push(msg.content.toString('utf8').slice(0, 200));
            return;
          }
          if (msg.fields.exchange === TASK_COMPLETED) {
            const taskId = body.status?.taskId;
            if (!taskId) events.malformed.push(msg.content.toString('utf8').slice(0, 200));
            else if (events.completed.has(taskId)) events.duplicates++;
            else events.completed.set(taskId, at);
          } else if (body.taskGroupId) {
            const list = events.groupResolved.get(body.taskGroupId) ?? [];
            list.push(at);
            events.groupResolved.set(body.taskGroupId, list);
          } else {
            events.malformed.push(msg.content.toString('utf8').slice(0, 200));
          }
        },
        { noAck: true },
      );
      return events;
    } catch (err) {
      await connection.close().catch(() => {});
      throw new Error(`cannot consume the queue's exchanges on ${redact(url)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** How many of `taskIds` have had their task-completed message, and when the last of them came. */
  completedOf(taskIds: readonly string[]): { count: number; last: number } {
    let count = 0;
    let last = Number.NEGATIVE_INFINITY;
    for (const id of taskIds) {
      const at = this.completed.get(id);
      if (at === undefined) continue;
      count++;
      if (at > last) last = at;
    }
    return { count, last };
  }

  async close(): Promise<void> {
    await this.channel.close().catch(() => {});
    await this.connection.close().catch(() => {});
  }
}

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
