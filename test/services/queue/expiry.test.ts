import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireQueueData } from '../../../src/services/queue/expiry.ts';
import { rejection } from '../../helpers/clients.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
});
afterAll(async () => ty?.stop());

describe('expiry', () => {
  it('deletes tasks, their groups, edges and pending entries once past expires, and keeps the rest', async () => {
    const queue = queueClient(ty);
    const now = ty.clock.now.getTime();
    const shortLived = newTaskId();
    const dependent = newTaskId();
    const longLived = newTaskId();
    await queue.createTask(shortLived, taskDef(ty, { expires: new Date(now + 2 * 3600_000).toJSON() }));
    await queue.createTask(
      dependent,
      taskDef(ty, { dependencies: [shortLived], expires: new Date(now + 3 * 3600_000).toJSON() }),
    );
    await queue.createTask(longLived, taskDef(ty, { expires: new Date(now + 30 * 86400e3).toJSON() }));

    const counts = await expireQueueData(ty.testDb.db, new Date(now + 4 * 3600_000));
    expect(counts.tasks).toBeGreaterThanOrEqual(2);
    expect(counts.dependencies).toBeGreaterThanOrEqual(1);
    expect((await rejection(queue.status(shortLived))).statusCode).toBe(404);
    expect((await rejection(queue.status(dependent))).statusCode).toBe(404);
    expect((await rejection(queue.getTaskGroup(shortLived))).statusCode).toBe(404);
    expect((await queue.status(longLived)).status.state).toBe('pending');
    const pending = await ty.testDb.db.query('select task_id from queue_pending where task_id = any($1)', [
      [shortLived, dependent],
    ]);
    expect(pending.rowCount).toBe(0);
  });
});
