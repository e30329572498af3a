import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

/** Wide dependency graphs: resolving a task costs O(its dependents), whatever the width. */
const WIDTH = 10_000;
const IN_FLIGHT = 16;

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
  ty.taskyard.queue!.context.settings.claimWorkTimeoutMs = 1000;
});
afterAll(async () => ty?.stop());

const newQueue = () => `test-prov/w${Math.random().toString(36).slice(2, 10)}`;

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Entries of the queue: claimable ones, or (gated) ones waiting for a dependency. */
async function countPending(taskQueueId: string, gated = false): Promise<number> {
  const res = await ty.testDb.db.query(
    `select count(*)::int as n from queue_pending where task_queue_id = $1 and (gate is not null) = $2`,
    [taskQueueId, gated],
  );
  return res.rows[0].n;
}

function timer() {
  const start = Date.now();
  let last = start;
  const laps: string[] = [];
  return {
    lap(name: string) {
      const now = Date.now();
      laps.push(`${name} ${((now - last) / 1000).toFixed(1)} s`);
      last = now;
    },
    report(title: string) {
      console.log(`${title}: ${laps.join(', ')}; total ${((Date.now() - start) / 1000).toFixed(1)} s`);
    },
  };
}

describe('wide dependency graphs', () => {
  it('makes 10,000 dependents pending once the one task they depend on completes (fan-out)', async () => {
    const t = timer();
    const queue = queueClient(ty);
    const tq = newQueue();
    // The source resolves itself (built-in/succeed), but only once scheduled: it depends on itself.
    const source = newTaskId();
    await queue.createTask(source, taskDef(ty, { taskQueueId: 'built-in/succeed', dependencies: [source] }));
    const dependents = Array.from({ length: WIDTH }, () => newTaskId());
    await inParallel(dependents, IN_FLIGHT, (taskId) =>
      queue.createTask(taskId, taskDef(ty, { taskQueueId: tq, dependencies: [source] })),
    );
    t.lap(`created ${WIDTH} dependents`);
    expect(await countPending(tq)).toBe(0);
    expect(await countPending(tq, true)).toBe(WIDTH);
    const some = dependents.filter((_, i) => i % 1000 === 0);
    for (const taskId of some) expect((await queue.status(taskId)).status.state).toBe('unscheduled');

    await queue.scheduleTask(source);
    await expect
      .poll(async () => (await queue.status(source)).status.state, { timeout: 10_000 })
      .toBe('completed');
    t.lap('source completed');
    await expect.poll(() => countPending(tq), { timeout: 60_000, interval: 250 }).toBe(WIDTH);
    t.lap('all dependents pending');
    expect(await countPending(tq, true)).toBe(0);
    for (const taskId of some) expect((await queue.status(taskId)).status.state).toBe('pending');
    t.report('fan-out');
  }, 180_000);

  it('makes a task with 10,000 dependencies pending once the last of them completes (fan-in)', async () => {
    const t = timer();
    const queue = queueClient(ty);
    const tq = newQueue();
    // The last one waits in a queue of its own, so it is surely the last to complete.
    const lastQueue = newQueue();
    const dependencies = Array.from({ length: WIDTH }, () => newTaskId());
    const last = dependencies[WIDTH - 1];
    await inParallel(dependencies, IN_FLIGHT, (taskId) =>
      queue.createTask(taskId, taskDef(ty, { taskQueueId: taskId === last ? lastQueue : tq })),
    );
    t.lap(`created ${WIDTH} tasks`);
    const sink = newTaskId();
    await queue.createTask(sink, taskDef(ty, { taskQueueId: newQueue(), dependencies }));
    t.lap('created the sink');
    const unsatisfied = async () =>
      (await ty.testDb.db.query('select unsatisfied from queue_tasks where task_id = $1', [sink])).rows[0]
        .unsatisfied;
    expect(await unsatisfied()).toBe(WIDTH);

    // All but the last, claimed 32 at a time by four workers and reported completed.
    let completed = 0;
    await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        for (;;) {
          const { tasks } = await queue.claimWork(tq, { workerGroup: 'fan', workerId: `w${i}`, tasks: 32 });
          if (tasks.length === 0) return;
          await inParallel(tasks as Untyped[], 4, async (c) => {
            await queueClient(ty, c.credentials).reportCompleted(c.status.taskId, c.runId);
            completed++;
          });
        }
      }),
    );
    expect(completed).toBe(WIDTH - 1);
    t.lap(`claimed and completed ${WIDTH - 1}`);
    await expect.poll(unsatisfied, { timeout: 60_000, interval: 250 }).toBe(1);
    t.lap('dependencies counted');
    expect((await queue.status(sink)).status.state).toBe('unscheduled');

    const { tasks } = await queue.claimWork(lastQueue, { workerGroup: 'fan', workerId: 'last', tasks: 1 });
    await queueClient(ty, tasks[0].credentials).reportCompleted(last, 0);
    await expect
      .poll(async () => (await queue.status(sink)).status.state, { timeout: 10_000 })
      .toBe('pending');
    t.lap('sink pending');
    t.report('fan-in');
  }, 180_000);
});
