import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '../../helpers/clients.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
});
afterAll(async () => ty?.stop());

describe('creating tasks', () => {
  it('creates a pending task with defaults filled in, and reads back its definition and status', async () => {
    const queue = queueClient(ty);
    const taskId = newTaskId();
    const { status } = await queue.createTask(
      taskId,
      taskDef(ty, { provisionerId: 'p1', workerType: 'w1', taskQueueId: undefined }),
    );
    expect(status).toMatchObject({
      taskId,
      provisionerId: 'p1',
      workerType: 'w1',
      taskQueueId: 'p1/w1',
      schedulerId: 'test-sched',
      projectId: 'none',
      taskGroupId: taskId,
      retriesLeft: 5,
      state: 'pending',
      runs: [{ runId: 0, state: 'pending', reasonCreated: 'scheduled' }],
    });
    const task = await queue.task(taskId);
    expect(task).toMatchObject({
      requires: 'all-completed',
      priority: 'lowest',
      retries: 5,
      routes: [],
      tags: {},
      extra: {},
    });
    expect(new Date(task.expires).getTime() - new Date(task.deadline).getTime()).toBeGreaterThan(
      360 * 86400e3,
    );
    expect((await queue.status(taskId)).status.state).toBe('pending');
  });

  it('answers 200 to the same definition again and 409 to another one', async () => {
    const queue = queueClient(ty);
    const taskId = newTaskId();
    const def = taskDef(ty);
    await queue.createTask(taskId, def);
    expect((await queue.createTask(taskId, def)).status.taskId).toBe(taskId);
    const err = await rejection(queue.createTask(taskId, { ...def, payload: { other: true } }));
    expect(err.statusCode).toBe(409);
  });

  it('refuses bad definitions with a clear 400 and creates nothing', async () => {
    const queue = queueClient(ty);
    const now = ty.clock.now.getTime();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ deadline: new Date(now - 1000).toJSON() }, /deadline.*past/],
      [{ created: new Date(now - 3600_000).toJSON() }, /created/],
      [{ deadline: new Date(now + 6 * 86400e3).toJSON() }, /deadline/],
      [{ expires: new Date(now + 60_000).toJSON() }, /expires/],
      [{ payload: 'not an object' }, /body\.payload/],
      [{ dependencies: [newTaskId()] }, /do not exist/],
      [{ dependencies: Array.from({ length: 10_001 }, () => newTaskId()) }, /10000|dependencies/],
      [{ taskQueueId: undefined }, /taskQueueId/],
      [{ scopes: ['a**'] }, /\*\*/],
    ];
    for (const [over, message] of cases) {
      const taskId = newTaskId();
      const err = await rejection(queue.createTask(taskId, taskDef(ty, over)));
      expect(err.statusCode, JSON.stringify(over).slice(0, 80)).toBe(400);
      expect(err.message).toMatch(message);
      expect((await rejection(queue.status(taskId))).statusCode).toBe(404);
    }
  });

  it('requires the scopes of the task, its routes, scheduler, project and priority', async () => {
    const { makeClient } = await import('../../helpers/clients.ts');
    const creds = await makeClient(ty, 'queue/creator', [
      'queue:create-task:high:test-prov/test-worker',
      'queue:scheduler-id:test-sched',
      'queue:create-task:project:none',
      'queue:route:ok.*',
    ]);
    const queue = queueClient(ty, creds);
    await queue.createTask(newTaskId(), taskDef(ty, { priority: 'medium', routes: ['ok.1'] }));
    for (const over of [
      { priority: 'very-high' },
      { routes: ['other.1'] },
      { scopes: ['secret:x'] },
      { schedulerId: 'other' },
    ]) {
      const err = await rejection(queue.createTask(newTaskId(), taskDef(ty, over)));
      expect(err.statusCode, JSON.stringify(over)).toBe(403);
    }
  });

  it('keeps a task group to one schedulerId, and a refused task leaves nothing behind', async () => {
    const queue = queueClient(ty);
    const taskGroupId = newTaskId();
    const first = newTaskId();
    await queue.createTask(first, taskDef(ty, { taskGroupId }));
    // Resolved, so that a task depending on it (requires all-resolved) would be pending at once.
    await queue.cancelTask(first);
    const groupRow = async () =>
      (
        await ty.testDb.db.query(
          'select unresolved, scheduler_id as "schedulerId" from queue_task_groups where task_group_id = $1',
          [taskGroupId],
        )
      ).rows[0];
    const before = await groupRow();
    expect(before).toEqual({ unresolved: 0, schedulerId: 'test-sched' });
    // Without dependencies (one statement) and with one (a transaction): both refused whole.
    for (const dependencies of [[], [first]]) {
      const refused = newTaskId();
      const err = await rejection(
        queue.createTask(
          refused,
          taskDef(ty, { taskGroupId, schedulerId: 'another', dependencies, requires: 'all-resolved' }),
        ),
      );
      expect(err.statusCode).toBe(409);
      expect(err.message).toContain(`task group ${taskGroupId} belongs to schedulerId test-sched`);
      expect((await rejection(queue.task(refused))).statusCode).toBe(404);
      const leftovers = await ty.testDb.db.query(
        `select (select count(*) from queue_pending where task_id = $1)::int as pending,
           (select count(*) from queue_task_dependencies where dependent_task_id = $1)::int as edges`,
        [refused],
      );
      expect(leftovers.rows[0]).toEqual({ pending: 0, edges: 0 });
    }
    expect(await groupRow()).toEqual(before);
  });
});

describe('reading several tasks at once', () => {
  it('answers definitions and statuses in the order asked, leaving out unknown tasks, a page at a time', async () => {
    const queue = queueClient(ty);
    const ids = [newTaskId(), newTaskId(), newTaskId()];
    for (const id of ids) await queue.createTask(id, taskDef(ty));
    const asked = [ids[2], newTaskId(), ids[0], ids[1]];
    const first = await queue.statuses({ taskIds: asked }, { limit: 2 });
    expect(first.statuses.map((s: { taskId: string }) => s.taskId)).toEqual([ids[2]]);
    const second = await queue.statuses(
      { taskIds: asked },
      { limit: 2, continuationToken: first.continuationToken },
    );
    expect(second.statuses.map((s: { status: { taskId: string } }) => s.status.taskId)).toEqual([
      ids[0],
      ids[1],
    ]);
    expect(second.continuationToken).toBeUndefined();
    const defs = await queue.tasks({ taskIds: asked });
    expect(defs.tasks.map((t: { taskId: string }) => t.taskId)).toEqual([ids[2], ids[0], ids[1]]);
    expect(defs.tasks[0].task.taskQueueId).toBe('test-prov/test-worker');
  });
});

describe('dependencies', () => {
  it('schedules all-resolved dependents when a dependency resolves any way, but not all-completed ones', async () => {
    const queue = queueClient(ty);
    const dep = newTaskId();
    const anyWay = newTaskId();
    const onlyCompleted = newTaskId();
    await queue.createTask(dep, taskDef(ty));
    await queue.createTask(anyWay, taskDef(ty, { dependencies: [dep], requires: 'all-resolved' }));
    await queue.createTask(onlyCompleted, taskDef(ty, { dependencies: [dep] }));
    expect((await queue.status(anyWay)).status.state).toBe('unscheduled');
    await queue.cancelTask(dep);
    await ty.taskyard.queue!.dependencyResolver.drain();
    expect((await queue.status(anyWay)).status.state).toBe('pending');
    expect((await queue.status(onlyCompleted)).status.state).toBe('unscheduled');
    const dependents = await queue.listDependentTasks(dep);
    expect(dependents.tasks.map((t: { status: { taskId: string } }) => t.status.taskId).sort()).toEqual(
      [anyWay, onlyCompleted].sort(),
    );
  });

  it('keeps a self-dependent task unscheduled until scheduleTask', async () => {
    const queue = queueClient(ty);
    const taskId = newTaskId();
    await queue.createTask(taskId, taskDef(ty, { dependencies: [taskId] }));
    expect((await queue.status(taskId)).status.state).toBe('unscheduled');
    expect((await queue.scheduleTask(taskId)).status.state).toBe('pending');
  });
});

describe('cancel and rerun', () => {
  it('cancels an unscheduled task with an exception run, and reruns it', async () => {
    const queue = queueClient(ty);
    const taskId = newTaskId();
    await queue.createTask(taskId, taskDef(ty, { dependencies: [taskId] }));
    const { status } = await queue.cancelTask(taskId);
    expect(status.runs).toEqual([
      expect.objectContaining({
        runId: 0,
        state: 'exception',
        reasonCreated: 'exception',
        reasonResolved: 'canceled',
      }),
    ]);
    const again = await queue.cancelTask(taskId);
    expect(again.status.runs).toHaveLength(1);
    const rerun = await queue.rerunTask(taskId);
    expect(rerun.status.state).toBe('pending');
    expect(rerun.status.runs[1]).toMatchObject({ runId: 1, reasonCreated: 'rerun' });
  });
});
