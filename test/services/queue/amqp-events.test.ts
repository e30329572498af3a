import amqp from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AmqpBus } from '../../../src/platform/events/index.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { amqpUrl, describeAmqp } from '../../helpers/services.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

describeAmqp('queue events on RabbitMQ, as a plain AMQP consumer sees them', () => {
  let ty: TestTaskyard;
  let bus: AmqpBus;
  let conn: amqp.ChannelModel;
  beforeAll(async () => {
    bus = await AmqpBus.connect(amqpUrl()!);
    // Not notify or index: their durable queues on this broker belong to their own AMQP suites.
    ty = await startTestTaskyard({ bus, services: ['auth', 'queue'] });
    conn = await amqp.connect(amqpUrl()!);
  });
  afterAll(async () => {
    await ty?.stop();
    await bus?.close();
    await conn?.close();
  });

  it('delivers pending, running and completed messages with Taskcluster routing keys, bodies and route CCs', async () => {
    const ch = await conn.createChannel();
    const prefix = 'exchange/taskcluster-queue/v1/';
    const { queue: q } = await ch.assertQueue('', { exclusive: true });
    const route = `test.${newTaskId()
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')}`;
    for (const name of ['task-pending', 'task-running', 'task-completed']) {
      await ch.assertExchange(prefix + name, 'topic', { durable: true });
      // Bound by the task's route only: these arrive through the CC routing key.
      await ch.bindQueue(q, prefix + name, `route.${route}`);
    }
    const got: amqp.ConsumeMessage[] = [];
    await ch.consume(q, (m) => m && got.push(m), { noAck: true });

    const queue = queueClient(ty);
    const taskId = newTaskId();
    const taskGroupId = newTaskId();
    await queue.createTask(taskId, taskDef(ty, { taskGroupId, routes: [route] }));
    const claim = await queue.claimWork('test-prov/test-worker', {
      workerGroup: 'wg-1',
      workerId: 'wid-1',
      tasks: 1,
    });
    expect(claim.tasks).toHaveLength(1);
    await queue.reportCompleted(taskId, 0);

    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(3);
    const byExchange = Object.fromEntries(got.map((m) => [m.fields.exchange.slice(prefix.length), m]));
    expect(byExchange['task-pending'].fields.routingKey).toBe(
      `primary.${taskId}.0._._.test-prov.test-worker.test-sched.${taskGroupId}._`,
    );
    expect(byExchange['task-running'].fields.routingKey).toBe(
      `primary.${taskId}.0.wg-1.wid-1.test-prov.test-worker.test-sched.${taskGroupId}._`,
    );
    expect(byExchange['task-completed'].fields.routingKey).toBe(
      `primary.${taskId}.0.wg-1.wid-1.test-prov.test-worker.test-sched.${taskGroupId}._`,
    );
    for (const m of got) {
      expect(m.properties.contentType).toBe('application/json');
      expect(m.properties.headers?.CC).toEqual([`route.${route}`]);
    }
    const completed = JSON.parse(byExchange['task-completed'].content.toString());
    expect(completed).toMatchObject({
      version: 1,
      runId: 0,
      workerGroup: 'wg-1',
      workerId: 'wid-1',
      task: { tags: {} },
      status: { taskId, state: 'completed' },
    });
    const running = JSON.parse(byExchange['task-running'].content.toString());
    expect(running.takenUntil).toBe(claim.tasks[0].takenUntil);
    await ch.close();
  });
});
