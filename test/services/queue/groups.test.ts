import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveredMessage } from '../../../src/platform/events/index.ts';
import { rejection } from '../../helpers/clients.ts';
import { newTaskId, queueClient, queueClientFromReference, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

let ty: TestTaskyard;
const events: DeliveredMessage[] = [];
beforeAll(async () => {
  ty = await startTestTaskyard();
  await ty.bus.consume({
    queueName: 'groups-test',
    bindings: [
      { exchange: 'exchange/taskcluster-queue/v1/task-group-sealed', pattern: '#' },
      { exchange: 'exchange/taskcluster-queue/v1/task-group-resolved', pattern: '#' },
      { exchange: 'exchange/taskcluster-queue/v1/task-priority-changed', pattern: '#' },
    ],
    handler: async (m) => {
      events.push(m);
    },
  });
});
afterAll(async () => ty?.stop());

async function makeGroup(n: number): Promise<{ taskGroupId: string; taskIds: string[] }> {
  const queue = queueClient(ty);
  const taskGroupId = newTaskId();
  const taskIds: string[] = [];
  for (let i = 0; i < n; i++) {
    const taskId = newTaskId();
    await queue.createTask(taskId, taskDef(ty, { taskGroupId }));
    taskIds.push(taskId);
  }
  return { taskGroupId, taskIds };
}

const flush = async () => {
  await ty.taskyard.relay.drainOnce();
  await new Promise((r) => setTimeout(r, 50));
};

describe('task groups', () => {
  it('lists a group a page at a time', async () => {
    const { taskGroupId, taskIds } = await makeGroup(5);
    const queue = queueClient(ty);
    const group = await queue.getTaskGroup(taskGroupId);
    expect(group).toMatchObject({ taskGroupId, schedulerId: 'test-sched' });
    expect(group.sealed).toBeUndefined();
    const seen: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await queue.listTaskGroup(taskGroupId, {
        limit: 2,
        ...(continuationToken ? { continuationToken } : {}),
      });
      seen.push(...page.tasks.map((t: { status: { taskId: string } }) => t.status.taskId));
      continuationToken = page.continuationToken;
    } while (continuationToken);
    expect(seen).toEqual([...taskIds].sort());
    expect((await rejection(queue.getTaskGroup(newTaskId()))).statusCode).toBe(404);
  });

  it('seals a group, which then takes no new task, and announces it once', async () => {
    const { taskGroupId, taskIds } = await makeGroup(1);
    const queue = queueClient(ty);
    const sealed = await queue.sealTaskGroup(taskGroupId);
    expect(sealed.sealed).toBeDefined();
    expect((await queue.sealTaskGroup(taskGroupId)).sealed).toBe(sealed.sealed);
    // Without dependencies (one statement) and with one (a transaction): both refused whole.
    for (const dependencies of [[], [taskIds[0]]]) {
      const refused = newTaskId();
      const err = await rejection(queue.createTask(refused, taskDef(ty, { taskGroupId, dependencies })));
      expect(err.statusCode).toBe(409);
      expect(err.message).toContain(`task group ${taskGroupId} is sealed`);
      expect((await rejection(queue.task(refused))).statusCode).toBe(404);
    }
    const group = await ty.testDb.db.query(
      'select unresolved from queue_task_groups where task_group_id = $1',
      [taskGroupId],
    );
    expect(group.rows[0].unresolved).toBe(1);
    await flush();
    expect(
      events.filter(
        (e) =>
          e.exchange.endsWith('task-group-sealed') &&
          (e.payload as { taskGroupId: string }).taskGroupId === taskGroupId,
      ),
    ).toHaveLength(1);
  });

  it('cancels the unresolved tasks of a sealed group only, and then the group is resolved once', async () => {
    const { taskGroupId, taskIds } = await makeGroup(4);
    const queue = queueClient(ty);
    expect((await rejection(queue.cancelTaskGroup(taskGroupId))).statusCode).toBe(409);
    await queue.cancelTask(taskIds[0]);
    await queue.sealTaskGroup(taskGroupId);
    const res = await queue.cancelTaskGroup(taskGroupId);
    expect(res).toMatchObject({ taskGroupId, taskGroupSize: 4, cancelledCount: 3 });
    expect([...res.taskIds].sort()).toEqual(taskIds.slice(1).sort());
    for (const taskId of taskIds) {
      expect((await queue.status(taskId)).status.runs.at(-1)).toMatchObject({
        state: 'exception',
        reasonResolved: 'canceled',
      });
    }
    await flush();
    const resolved = events.filter(
      (e) =>
        e.exchange.endsWith('task-group-resolved') &&
        (e.payload as { taskGroupId: string }).taskGroupId === taskGroupId,
    );
    expect(resolved).toHaveLength(1);
    expect(resolved[0].routingKey).toBe(`primary.${taskGroupId}.test-sched._`);
  });

  it('changes the priority of a task and of the unresolved tasks of a group', async () => {
    const { taskGroupId, taskIds } = await makeGroup(3);
    const queue = await queueClientFromReference(ty);
    await queue.cancelTask(taskIds[2]);
    const res = await queue.changeTaskGroupPriority(taskGroupId, { newPriority: 'high' });
    expect(res).toMatchObject({ taskGroupId, newPriority: 'high', tasksAffected: 2 });
    expect((await queue.task(taskIds[0])).priority).toBe('high');
    expect((await queue.task(taskIds[2])).priority).toBe('lowest');
    await queue.changeTaskPriority(taskIds[0], { newPriority: 'medium' });
    expect((await queue.task(taskIds[0])).priority).toBe('medium');
    expect(
      (await rejection(queue.changeTaskPriority(taskIds[0], { newPriority: 'medium' }))).statusCode,
    ).toBe(409);
    expect((await rejection(queue.changeTaskPriority(taskIds[2], { newPriority: 'high' }))).statusCode).toBe(
      409,
    );
    await flush();
    const changed = events.find(
      (e) =>
        e.exchange.endsWith('task-priority-changed') &&
        (e.payload as { status: { taskId: string } }).status.taskId === taskIds[0],
    );
    expect(changed?.payload).toMatchObject({ oldPriority: 'high', newPriority: 'medium' });
  });
});
