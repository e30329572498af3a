import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AmqpBus } from '../../../src/platform/events/index.ts';
import { INDEX_QUEUE_NAME } from '../../../src/services/index/task-events.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { amqpUrl, describeAmqp } from '../../helpers/services.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

describeAmqp('the index consuming queue events from RabbitMQ', () => {
  let ty: TestTaskyard;
  let bus: AmqpBus;
  beforeAll(async () => {
    bus = await AmqpBus.connect(amqpUrl()!);
    // Not notify: its durable queues on this broker belong to the notify AMQP suite.
    ty = await startTestTaskyard({ bus, services: ['auth', 'queue', 'index'] });
  });
  afterAll(async () => {
    await ty?.stop();
    // Durable queues outlive their consumers: left behind, they would fill with every later
    // run's events on this broker.
    await bus?.deleteQueue(INDEX_QUEUE_NAME);
    await bus?.close();
  });

  it('indexes a completed task at its index route', async () => {
    const queue = queueClient(ty);
    const taskId = newTaskId();
    const namespace = `amqp.t${newTaskId()
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')}`;
    await queue.createTask(
      taskId,
      taskDef(ty, { routes: [`index.${namespace}`], extra: { index: { rank: 3 } } }),
    );
    await queue.claimWork('test-prov/test-worker', { workerGroup: 'wg', workerId: 'w', tasks: 1 });
    await queue.reportCompleted(taskId, 0);
    const index = new taskcluster.Index({ rootUrl: ty.rootUrl, credentials: ty.root, retries: 0 });
    await expect
      .poll(async () => (await index.findTask(namespace).catch(() => undefined))?.taskId, { timeout: 15_000 })
      .toBe(taskId);
    expect((await index.findTask(namespace)).rank).toBe(3);
  });
});
