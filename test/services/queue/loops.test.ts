import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveredMessage, InProcessBus } from '../../../src/platform/events/index.ts';
import { expireClaims, resolveDeadlines } from '../../../src/services/queue/loops.ts';
import { rejection } from '../../helpers/clients.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

/**
 * Without background loops: each test runs the passes itself against the injected clock. Claims
 * last two minutes here, so moving the clock past them stays within Hawk's 15-minute skew (the
 * official client signs with the real time); each test puts the clock back afterwards.
 */
let ty: TestTaskyard;
let advanced = 0;
const CLAIM_MS = 2 * 60_000;
beforeAll(async () => {
  ty = await startTestTaskyard({ backgroundLoops: false });
  ty.taskyard.queue!.context.settings.claimTimeoutMs = CLAIM_MS;
  // Every claimWork here finds work, except where the test expects none: no need to wait long.
  ty.taskyard.queue!.context.settings.claimWorkTimeoutMs = 1000;
});
afterEach(() => {
  ty.clock.advance(-advanced);
  advanced = 0;
});
afterAll(async () => ty?.stop());

const advance = (ms: number) => {
  ty.clock.advance(ms);
  advanced += ms;
};
const ctx = () => ty.taskyard.queue!.context;
const newQueue = () => `test-prov/w${Math.random().toString(36).slice(2, 10)}`;
const worker = { workerGroup: 'wg', workerId: 'wi' };

async function createIn(taskQueueId: string, over: Record<string, unknown> = {}): Promise<string> {
  const taskId = newTaskId();
  await queueClient(ty).createTask(taskId, taskDef(ty, { taskQueueId, ...over }));
  return taskId;
}

async function claimOne(taskQueueId: string): Promise<Untyped> {
  const { tasks } = await queueClient(ty).claimWork(taskQueueId, { ...worker, tasks: 1 });
  expect(tasks).toHaveLength(1);
  return tasks[0];
}

/** Collects the messages of some exchanges (all routing keys) from the in-process bus. */
async function collect(
  exchanges: string[],
): Promise<{ messages: DeliveredMessage[]; flush(): Promise<void> }> {
  const messages: DeliveredMessage[] = [];
  await ty.bus.consume({
    queueName: `test-${Math.random().toString(36).slice(2)}`,
    bindings: exchanges.map((e) => ({ exchange: `exchange/taskcluster-queue/v1/${e}`, pattern: '#' })),
    handler: async (msg) => {
      messages.push(msg);
    },
  });
  return {
    messages,
    async flush() {
      while ((await ty.taskyard.relay.drainOnce()) > 0) {
        // publish everything written so far
      }
      await (ty.bus as InProcessBus).waitIdle();
    },
  };
}

describe('claim expiry', () => {
  it('resolves an expired claim as exception/claim-expired and retries the task', async () => {
    const tq = newQueue();
    const taskId = await createIn(tq);
    const claim = await claimOne(tq);
    advance(CLAIM_MS - 10_000);
    expect(await expireClaims(ctx())).toBe(0);
    expect((await queueClient(ty).status(taskId)).status.state).toBe('running');
    advance(11_000);
    expect(await expireClaims(ctx())).toBe(1);
    const { status } = await queueClient(ty).status(taskId);
    expect(status).toMatchObject({
      state: 'pending',
      retriesLeft: 4,
      runs: [
        { runId: 0, state: 'exception', reasonResolved: 'claim-expired', workerGroup: 'wg', workerId: 'wi' },
        { runId: 1, state: 'pending', reasonCreated: 'retry' },
      ],
    });
    expect((await rejection(queueClient(ty, claim.credentials).reclaimTask(taskId, 0))).statusCode).toBe(409);
    expect(await expireClaims(ctx())).toBe(0);
    expect((await claimOne(tq)).runId).toBe(1);
  });

  it('keeps a claim alive when the worker reclaims it in time', async () => {
    const tq = newQueue();
    const taskId = await createIn(tq);
    const claim = await claimOne(tq);
    advance(CLAIM_MS - 10_000);
    await queueClient(ty, claim.credentials).reclaimTask(taskId, 0);
    advance(20_000);
    expect(await expireClaims(ctx())).toBe(0);
    expect((await queueClient(ty).status(taskId)).status.state).toBe('running');
    await queueClient(ty).cancelTask(taskId);
  });

  it('resolves the task as exception when it has no retries left', async () => {
    const tq = newQueue();
    const taskId = await createIn(tq, { retries: 0 });
    await claimOne(tq);
    advance(CLAIM_MS + 1000);
    expect(await expireClaims(ctx())).toBe(1);
    const { status } = await queueClient(ty).status(taskId);
    expect(status).toMatchObject({
      state: 'exception',
      retriesLeft: 0,
      runs: [{ state: 'exception', reasonResolved: 'claim-expired' }],
    });
    expect(status.runs).toHaveLength(1);
  });
});

describe('deadlines', () => {
  it('resolves unscheduled, pending and running tasks past their deadline as deadline-exceeded', async () => {
    const tq = newQueue();
    const deadline = new Date(ty.clock.now.getTime() + 90_000).toJSON();
    const unscheduledId = newTaskId();
    await queueClient(ty).createTask(
      unscheduledId,
      taskDef(ty, { taskQueueId: tq, deadline, dependencies: [unscheduledId] }),
    );
    const pending = await createIn(tq, { deadline });
    const running = await createIn(tq, { deadline, priority: 'highest' });
    expect((await claimOne(tq)).status.taskId).toBe(running);
    const completed = await createIn(tq, { deadline, priority: 'highest' });
    const claim = await claimOne(tq);
    await queueClient(ty, claim.credentials).reportCompleted(completed, 0);

    expect(await resolveDeadlines(ctx())).toBe(0);
    advance(91_000);
    expect(await resolveDeadlines(ctx())).toBe(3);
    expect(await resolveDeadlines(ctx())).toBe(0);
    const queue = queueClient(ty);
    expect((await queue.status(unscheduledId)).status.runs).toEqual([
      {
        runId: 0,
        state: 'exception',
        reasonCreated: 'exception',
        reasonResolved: 'deadline-exceeded',
        scheduled: expect.any(String),
        resolved: expect.any(String),
      },
    ]);
    expect((await queue.status(pending)).status.runs).toEqual([
      expect.objectContaining({
        state: 'exception',
        reasonCreated: 'scheduled',
        reasonResolved: 'deadline-exceeded',
      }),
    ]);
    const runningStatus = (await queue.status(running)).status;
    expect(runningStatus.state).toBe('exception');
    expect(runningStatus.runs).toEqual([
      expect.objectContaining({ reasonResolved: 'deadline-exceeded', workerGroup: 'wg', workerId: 'wi' }),
    ]);
    expect((await queue.status(completed)).status.state).toBe('completed');
    // Past its deadline the running task cannot be claimed again, even though its claim expired too.
    expect(await expireClaims(ctx())).toBe(0);
    expect((await queue.claimWork(tq, { ...worker, tasks: 4 })).tasks).toEqual([]);
  });

  it('schedules all-resolved dependents of a task whose deadline passed', async () => {
    const tq = newQueue();
    const dep = await createIn(tq, { deadline: new Date(ty.clock.now.getTime() + 60_000).toJSON() });
    const dependent = await createIn(tq, { dependencies: [dep], requires: 'all-resolved' });
    advance(61_000);
    expect(await resolveDeadlines(ctx())).toBe(1);
    await ty.taskyard.queue!.dependencyResolver.drain();
    expect((await queueClient(ty).status(dependent)).status.state).toBe('pending');
  });
});

describe('events', () => {
  it('announces task-group-resolved exactly once, when the last task of the group resolves', async () => {
    const tq = newQueue();
    const taskGroupId = newTaskId();
    const events = await collect(['task-group-resolved']);
    const ofGroup = () =>
      events.messages.filter((m) => (m.payload as { taskGroupId: string }).taskGroupId === taskGroupId);
    const first = await createIn(tq, { taskGroupId });
    const second = await createIn(tq, { taskGroupId });
    const third = await createIn(tq, { taskGroupId, retries: 1 });
    for (const taskId of [first, second]) {
      const claim = await claimOne(tq);
      expect(claim.status.taskId).toBe(taskId);
      await queueClient(ty, claim.credentials).reportCompleted(taskId, 0);
    }
    // The third is retried after a worker-shutdown: not resolved yet.
    let claim = await claimOne(tq);
    await queueClient(ty, claim.credentials).reportException(third, 0, { reason: 'worker-shutdown' });
    await events.flush();
    expect(ofGroup()).toEqual([]);
    claim = await claimOne(tq);
    await queueClient(ty, claim.credentials).reportFailed(third, 1);
    await queueClient(ty, claim.credentials).reportFailed(third, 1);
    await events.flush();
    expect(ofGroup()).toHaveLength(1);
    expect(ofGroup()[0]).toMatchObject({
      routingKey: `primary.${taskGroupId}.test-sched._`,
      payload: { taskGroupId, schedulerId: 'test-sched' },
    });
  });

  it('publishes task-pending, task-running, task-completed and task-exception with Taskcluster routing keys and CCs', async () => {
    const tq = newQueue();
    const [provisionerId, workerType] = tq.split('/');
    const events = await collect(['task-pending', 'task-running', 'task-completed', 'task-exception']);
    const taskId = await createIn(tq, { routes: ['index.my.route', 'notify.x'], tags: { kind: 'test' } });
    const ofTask = (exchange: string) =>
      events.messages.filter(
        (m) =>
          m.exchange === `exchange/taskcluster-queue/v1/${exchange}` && m.routingKey.split('.')[1] === taskId,
      );
    let claim = await claimOne(tq);
    advance(CLAIM_MS + 1000);
    expect(await expireClaims(ctx())).toBe(1);
    claim = await claimOne(tq);
    await queueClient(ty, claim.credentials).reportCompleted(taskId, 1);
    await events.flush();

    const key = (runId: string, w: string) =>
      `primary.${taskId}.${runId}.${w}.${provisionerId}.${workerType}.test-sched.${taskId}._`;
    const pending = ofTask('task-pending');
    expect(pending.map((m) => m.routingKey)).toEqual([key('0', '_._'), key('1', '_._')]);
    expect(pending[0].routes).toEqual(['index.my.route', 'notify.x']);
    expect(pending[1].payload).toEqual({
      version: 1,
      status: expect.objectContaining({ taskId, state: 'pending' }),
      task: { tags: { kind: 'test' } },
      runId: 1,
    });

    const running = ofTask('task-running');
    expect(running.map((m) => m.routingKey)).toEqual([key('0', 'wg.wi'), key('1', 'wg.wi')]);
    expect(running[1].routes).toEqual(['index.my.route', 'notify.x']);
    expect(running[1].payload).toEqual({
      version: 1,
      status: expect.objectContaining({ taskId, state: 'running' }),
      task: { tags: { kind: 'test' } },
      runId: 1,
      workerGroup: 'wg',
      workerId: 'wi',
      takenUntil: claim.takenUntil,
    });

    const exception = ofTask('task-exception');
    expect(exception.map((m) => m.routingKey)).toEqual([key('0', 'wg.wi')]);
    expect(exception[0].payload).toMatchObject({
      version: 1,
      runId: 0,
      workerGroup: 'wg',
      workerId: 'wi',
      task: { tags: { kind: 'test' } },
      status: { runs: [{ runId: 0, state: 'exception', reasonResolved: 'claim-expired' }] },
    });

    const completed = ofTask('task-completed');
    expect(completed.map((m) => m.routingKey)).toEqual([key('1', 'wg.wi')]);
    expect(completed[0].routes).toEqual(['index.my.route', 'notify.x']);
    expect(completed[0].payload).toEqual({
      version: 1,
      status: expect.objectContaining({ taskId, state: 'completed' }),
      task: { tags: { kind: 'test' } },
      runId: 1,
      workerGroup: 'wg',
      workerId: 'wi',
    });
  });
});
