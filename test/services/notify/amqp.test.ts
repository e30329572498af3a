import { afterAll, beforeAll, expect, it } from 'vitest';
import { AmqpBus, type Consumer, type DeliveredMessage } from '../../../src/platform/events/index.ts';
import { NOTIFY_GROUP_QUEUE_NAME } from '../../../src/services/notify/group-events.ts';
import { NOTIFY_TASK_QUEUE_NAME } from '../../../src/services/notify/task-events.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { amqpUrl, describeAmqp } from '../../helpers/services.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import { notifyClient, startSmtp } from './helpers.ts';

describeAmqp('notify over RabbitMQ', () => {
  let ty: TestTaskyard;
  let bus: AmqpBus;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let consumer: Consumer;
  const received: DeliveredMessage[] = [];
  const queueName = `test/notify-amqp/${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    smtp = await startSmtp();
    bus = await AmqpBus.connect(amqpUrl()!);
    ty = await startTestTaskyard({
      bus,
      services: ['auth', 'queue', 'notify'],
      config: { smtpHost: '127.0.0.1', smtpPort: smtp.port },
    });
    consumer = await bus.consume({
      queueName,
      bindings: [{ exchange: 'exchange/taskcluster-notify/v1/notification', pattern: 'primary.amqp.#' }],
      handler: async (msg) => {
        received.push(msg);
      },
    });
  }, 60_000);
  afterAll(async () => {
    await consumer?.close();
    await ty?.stop();
    // Durable queues outlive their consumers: left behind, they would fill with every later
    // run's events on this broker.
    for (const name of [queueName, NOTIFY_TASK_QUEUE_NAME, NOTIFY_GROUP_QUEUE_NAME])
      await bus?.deleteQueue(name);
    await bus?.close();
    await smtp?.close();
  });

  it('publishes pulse requests on the notification exchange', async () => {
    await notifyClient(ty).pulse({ routingKey: 'amqp.api', message: { n: 1 } });
    await expect.poll(() => received.length, { timeout: 15_000 }).toBe(1);
    expect(received[0]).toMatchObject({
      routingKey: 'primary.amqp.api',
      routes: ['amqp.api'],
      payload: { version: 1, message: { n: 1 } },
    });
  });

  it('emails and publishes for the routes of a task resolved through the queue', async () => {
    const address = `amqp-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const taskQueueId = `notify-prov/amqp${Math.random().toString(36).slice(2, 8)}`;
    const queue = queueClient(ty);
    const taskId = newTaskId();
    await queue.createTask(
      taskId,
      taskDef(ty, {
        taskQueueId,
        routes: [`notify.email.${address}.on-failed`, 'notify.pulse.amqp.task.on-resolved'],
      }),
    );
    await queue.claimWork(taskQueueId, { workerGroup: 'wg', workerId: 'wi', tasks: 1 });
    await queue.reportFailed(taskId, 0);
    await expect
      .poll(() => smtp.mails.filter((m) => m.to.includes(address)).length, { timeout: 15_000 })
      .toBe(1);
    await expect
      .poll(() => received.filter((m) => m.routingKey === 'primary.amqp.task').length, { timeout: 15_000 })
      .toBe(1);
    expect(received.find((m) => m.routingKey === 'primary.amqp.task')?.payload).toMatchObject({
      message: { taskId, state: 'failed' },
    });
  });
});
