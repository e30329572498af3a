import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { DeliveredMessage } from '../../../src/platform/events/index.ts';
import { PENDING_CHANNEL } from '../../../src/services/queue/db.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

/**
 * Gated pending entries (migration 0012): a task waiting on one dependency is claimable from the
 * commit that resolves that dependency, before the dependency loop has looked at it. The loop
 * does not run in the background here: each test runs it (drain) where it says so.
 */
let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard({ backgroundLoops: false });
  ty.taskyard.queue!.context.settings.claimWorkTimeoutMs = 300;
});
afterAll(async () => ty?.stop());

const newQueue = () => `test-prov/g${Math.random().toString(36).slice(2, 10)}`;
const worker = { workerGroup: 'wg', workerId: 'wi' };
const runLoop = () => ty.taskyard.queue!.dependencyResolver.drain();

async function create(taskQueueId: string, over: Record<string, unknown> = {}): Promise<string> {
  const taskId = newTaskId();
  await queueClient(ty).createTask(taskId, taskDef(ty, { taskQueueId, ...over }));
  return taskId;
}

async function claim(taskQueueId: string, tasks = 10): Promise<Untyped[]> {
  return (await queueClient(ty).claimWork(taskQueueId, { ...worker, tasks })).tasks;
}

async function claimAndResolve(taskQueueId: string, how: 'reportCompleted' | 'reportFailed') {
  const [c] = await claim(taskQueueId, 1);
  await queueClient(ty, c.credentials)[how](c.status.taskId, c.runId);
  return c.status.taskId as string;
}

const state = async (taskId: string) => (await queueClient(ty).status(taskId)).status;

async function entries(taskId: string): Promise<Array<{ gate: string | null; runId: number }>> {
  const res = await ty.testDb.db.query(
    'select gate, run_id as "runId" from queue_pending where task_id = $1 order by run_id',
    [taskId],
  );
  return res.rows;
}

async function openGates(): Promise<string[]> {
  return (await ty.testDb.db.query('select task_id from queue_open_gates')).rows.map((r) => r.task_id);
}

describe('gated pending entries', () => {
  it('makes a dependent claimable when its one dependency completes, before the dependency loop', async () => {
    const depQueue = newQueue();
    const tq = newQueue();
    const other = await create(newQueue());
    const dep = await create(depQueue);
    const dependent = await create(tq, { dependencies: [dep] });
    const anyWay = await create(tq, { dependencies: [dep], requires: 'all-resolved' });
    // Two unresolved dependencies: no entry until the loop brings it down to one.
    const twoDeps = await create(tq, { dependencies: [dep, other] });

    expect(await entries(dependent)).toEqual([{ gate: dep, runId: 0 }]);
    expect(await entries(twoDeps)).toEqual([]);
    expect((await state(dependent)).state).toBe('unscheduled');
    expect((await queueClient(ty).pendingTasks(tq)).pendingTasks).toBe(0);
    expect((await queueClient(ty).listPendingTasks(tq)).tasks).toEqual([]);
    expect(await claim(tq)).toEqual([]);

    const events: DeliveredMessage[] = [];
    await ty.bus.consume({
      queueName: `test-${Math.random().toString(36).slice(2)}`,
      bindings: ['task-pending', 'task-running'].map((e) => ({
        exchange: `exchange/taskcluster-queue/v1/${e}`,
        pattern: `primary.${dependent}.#`,
      })),
      handler: async (msg) => {
        events.push(msg);
      },
    });

    expect(await claimAndResolve(depQueue, 'reportCompleted')).toBe(dep);
    expect(await openGates()).toContain(dep);
    // The loop has not run: the dependents are claimable all the same, the two-dependency one is not.
    const claimed = await claim(tq);
    expect(claimed.map((c) => c.status.taskId).sort()).toEqual([dependent, anyWay].sort());
    const status = await state(dependent);
    expect(status.state).toBe('running');
    expect(status.runs).toEqual([
      expect.objectContaining({ runId: 0, state: 'running', reasonCreated: 'scheduled', workerId: 'wi' }),
    ]);
    // task-pending, then task-running, as if the loop had made it pending first.
    await expect
      .poll(() => events.map((m) => m.exchange.split('/').pop()), { timeout: 5000 })
      .toEqual(['task-pending', 'task-running']);
    expect(events[0].payload).toMatchObject({ runId: 0, status: { taskId: dependent, state: 'pending' } });

    // The loop then finds them claimed: nothing is added, the gate closes, no entry is left.
    await runLoop();
    expect((await state(dependent)).runs).toHaveLength(1);
    expect((await state(anyWay)).runs).toHaveLength(1);
    expect(await entries(dependent)).toEqual([]);
    expect(await openGates()).not.toContain(dep);
    expect((await state(twoDeps)).state).toBe('unscheduled');
    const c = claimed.find((x) => x.status.taskId === dependent);
    await queueClient(ty, c.credentials).reportCompleted(dependent, 0);
    expect((await state(dependent)).state).toBe('completed');
  });

  it('leaves the dependents the loop made pending claimable the usual way', async () => {
    const depQueue = newQueue();
    const tq = newQueue();
    const dep = await create(depQueue);
    const dependent = await create(tq, { dependencies: [dep] });
    await claimAndResolve(depQueue, 'reportCompleted');
    await runLoop();
    expect((await state(dependent)).state).toBe('pending');
    expect(await entries(dependent)).toEqual([{ gate: null, runId: 0 }]);
    expect((await queueClient(ty).pendingTasks(tq)).pendingTasks).toBe(1);
    const [c] = await claim(tq);
    expect(c.status.taskId).toBe(dependent);
    expect(c.status.runs).toHaveLength(1);
  });

  it('opens a failed dependency to all-resolved dependents only, and keeps the others for a rerun', async () => {
    const depQueue = newQueue();
    const tq = newQueue();
    const dep = await create(depQueue);
    const onlyCompleted = await create(tq, { dependencies: [dep] });
    const anyWay = await create(tq, { dependencies: [dep], requires: 'all-resolved' });
    await claimAndResolve(depQueue, 'reportFailed');
    expect((await claim(tq)).map((c) => c.status.taskId)).toEqual([anyWay]);
    await runLoop();
    expect((await state(onlyCompleted)).state).toBe('unscheduled');
    expect(await entries(onlyCompleted)).toEqual([{ gate: dep, runId: 0 }]);
    expect(await claim(tq)).toEqual([]);

    // A rerun that completes opens the gate again.
    await queueClient(ty).rerunTask(dep);
    await claimAndResolve(depQueue, 'reportCompleted');
    expect((await claim(tq)).map((c) => c.status.taskId)).toEqual([onlyCompleted]);
    await runLoop();
    expect(await entries(onlyCompleted)).toEqual([]);
  });

  it('ungates on scheduleTask, and never hands out a canceled dependent', async () => {
    const depQueue = newQueue();
    const tq = newQueue();
    const dep = await create(depQueue);
    const scheduled = await create(tq, { dependencies: [dep] });
    const canceled = await create(tq, { dependencies: [dep] });
    expect((await queueClient(ty).scheduleTask(scheduled)).status.state).toBe('pending');
    expect(await entries(scheduled)).toEqual([{ gate: null, runId: 0 }]);
    await queueClient(ty).cancelTask(canceled);
    expect(await entries(canceled)).toEqual([]);
    expect((await claim(tq)).map((c) => c.status.taskId)).toEqual([scheduled]);

    await claimAndResolve(depQueue, 'reportCompleted');
    expect(await claim(tq)).toEqual([]);
    expect((await state(canceled)).runs).toEqual([
      expect.objectContaining({ state: 'exception', reasonResolved: 'canceled' }),
    ]);
    await runLoop();
    expect(await entries(canceled)).toEqual([]);
    expect(await openGates()).not.toContain(dep);
  });

  it('gates a task on the one dependency left unresolved, and never on itself', async () => {
    const depQueue = newQueue();
    const tq = newQueue();
    const done = await create(depQueue);
    await claimAndResolve(depQueue, 'reportCompleted');
    const dep = await create(depQueue);
    const gated = await create(tq, { dependencies: [done, dep] });
    expect(await entries(gated)).toEqual([{ gate: dep, runId: 0 }]);
    const selfToo = newTaskId();
    await queueClient(ty).createTask(selfToo, taskDef(ty, { taskQueueId: tq, dependencies: [selfToo, dep] }));
    expect(await entries(selfToo)).toEqual([]);
    await claimAndResolve(depQueue, 'reportCompleted');
    expect((await claim(tq)).map((c) => c.status.taskId)).toEqual([gated]);
    await runLoop();
    expect((await state(selfToo)).state).toBe('unscheduled');
    // Counted down to one by the loop, but that one is itself: no entry.
    expect(await entries(selfToo)).toEqual([]);
  });

  it('gates a task with several dependencies once the loop has counted all but one', async () => {
    const depQueue = newQueue();
    const lastQueue = newQueue();
    const tq = newQueue();
    const first = await create(depQueue);
    const last = await create(lastQueue);
    const allResolved = await create(tq, { dependencies: [first, last], requires: 'all-resolved' });
    expect(await entries(allResolved)).toEqual([]);
    await claimAndResolve(depQueue, 'reportFailed');
    await runLoop();
    expect(await entries(allResolved)).toEqual([{ gate: last, runId: 0 }]);
    expect((await state(allResolved)).state).toBe('unscheduled');
    // A failure: only the all-resolved requirement lets it through.
    await claimAndResolve(lastQueue, 'reportFailed');
    expect((await claim(tq)).map((c) => c.status.taskId)).toEqual([allResolved]);
    await runLoop();
    expect(await entries(allResolved)).toEqual([]);
    expect(await openGates()).not.toContain(last);
  });

  it('does not open a failed last dependency to an all-completed task', async () => {
    const depQueue = newQueue();
    const lastQueue = newQueue();
    const tq = newQueue();
    const first = await create(depQueue);
    const last = await create(lastQueue);
    const allCompleted = await create(tq, { dependencies: [first, last] });
    await claimAndResolve(depQueue, 'reportCompleted');
    await runLoop();
    expect(await entries(allCompleted)).toEqual([{ gate: last, runId: 0 }]);
    await claimAndResolve(lastQueue, 'reportFailed');
    expect(await claim(tq)).toEqual([]);
    await runLoop();
    expect((await state(allCompleted)).state).toBe('unscheduled');
    expect(await claim(tq)).toEqual([]);
  });

  it('puts an ungated entry behind the runs that were pending before it', async () => {
    const depQueue = newQueue();
    const tq = newQueue();
    const dep = await create(depQueue);
    const dependent = await create(tq, { dependencies: [dep] });
    const independent = await create(tq);
    await queueClient(ty).scheduleTask(dependent);
    const listed = await queueClient(ty).listPendingTasks(tq);
    expect(listed.tasks.map((t: Untyped) => t.taskId)).toEqual([independent, dependent]);
    expect((await claim(tq, 1)).map((c) => c.status.taskId)).toEqual([independent]);
    expect((await claim(tq, 1)).map((c) => c.status.taskId)).toEqual([dependent]);
  });

  it('does not narrow a gate a completion opened when a rerun of the dependency then fails', async () => {
    const depQueue = newQueue();
    const tq = newQueue();
    const dep = await create(depQueue);
    const dependent = await create(tq, { dependencies: [dep] });
    const anyWay = await create(tq, { dependencies: [dep], requires: 'all-resolved' });
    await claimAndResolve(depQueue, 'reportCompleted');
    await queueClient(ty).rerunTask(dep);
    await claimAndResolve(depQueue, 'reportFailed');
    // The completion opened the gate to both; the failure that followed (which opens it to
    // all-resolved dependents only) does not narrow it.
    expect((await claim(tq)).map((c) => c.status.taskId).sort()).toEqual([dependent, anyWay].sort());
    await runLoop();
    expect(await openGates()).not.toContain(dep);
  });

  it('drops, in the loop, the entry of a dependent past its deadline when its gate opens', async () => {
    const depQueue = newQueue();
    const tq = newQueue();
    const dep = await create(depQueue);
    const now = ty.clock.now.getTime();
    const late = await create(tq, { dependencies: [dep], deadline: new Date(now + 60_000).toJSON() });
    ty.clock.advance(120_000);
    try {
      await claimAndResolve(depQueue, 'reportCompleted');
      expect(await claim(tq)).toEqual([]);
      expect(await entries(late)).toEqual([{ gate: dep, runId: 0 }]);
      await runLoop();
      expect(await entries(late)).toEqual([]);
      expect((await state(late)).state).toBe('unscheduled');
    } finally {
      ty.clock.advance(-120_000);
    }
  });

  it('notifies the task queues of the dependents when the gate opens', async () => {
    // The claim below waits while the dependency is claimed and reported.
    ty.taskyard.queue!.context.settings.claimWorkTimeoutMs = 30_000;
    onTestFinished(() => {
      ty.taskyard.queue!.context.settings.claimWorkTimeoutMs = 300;
    });
    const depQueue = newQueue();
    const tq = newQueue();
    const dep = await create(depQueue);
    const dependent = await create(tq, { dependencies: [dep] });
    const listener = new pg.Client({ connectionString: ty.testDb.url });
    await listener.connect();
    try {
      const payloads: string[] = [];
      listener.on('notification', (n) => payloads.push(n.payload ?? ''));
      await listener.query(`listen ${PENDING_CHANNEL}`);
      const waiting = claim(tq, 1);
      await claimAndResolve(depQueue, 'reportCompleted');
      await expect.poll(() => payloads, { timeout: 5000 }).toContain(tq);
      expect((await waiting).map((c) => c.status.taskId)).toEqual([dependent]);
    } finally {
      await listener.end();
    }
  });
});
