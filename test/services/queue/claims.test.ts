import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../../src/platform/db/database.ts';
import { workClaimerFor } from '../../../src/services/queue/work-claimer.ts';
import { SEEN_EXPIRY_MS, SEEN_REFRESH_MS } from '../../../src/services/queue/worker-info.ts';
import { rejection } from '../../helpers/clients.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import { waitFor } from '../../helpers/wait.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
});
afterAll(async () => ty?.stop());

/** A task queue of its own, so tests never claim each other's tasks. */
const newQueue = () => `test-prov/w${Math.random().toString(36).slice(2, 10)}`;
const worker = { workerGroup: 'wg', workerId: 'wi' };

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

async function createIn(taskQueueId: string, over: Record<string, unknown> = {}): Promise<string> {
  const taskId = newTaskId();
  await queueClient(ty).createTask(taskId, taskDef(ty, { taskQueueId, ...over }));
  return taskId;
}

async function claimOne(taskQueueId: string, w = worker): Promise<Untyped> {
  const { tasks } = await queueClient(ty).claimWork(taskQueueId, { ...w, tasks: 1 });
  expect(tasks).toHaveLength(1);
  return tasks[0];
}

describe('claiming and resolving', () => {
  it('runs a task through claimWork, reclaimTask and reportCompleted', async () => {
    const tq = newQueue();
    const taskId = await createIn(tq, { scopes: ['secret:for-the-task'] });
    const before = ty.clock.now.getTime();
    const claim = await claimOne(tq);
    expect(claim).toMatchObject({
      runId: 0,
      workerGroup: 'wg',
      workerId: 'wi',
      status: { taskId, state: 'running', runs: [{ runId: 0, state: 'running', workerGroup: 'wg' }] },
      task: { taskQueueId: tq, payload: {}, scopes: ['secret:for-the-task'] },
    });
    expect(claim.takenUntil).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    const takenUntil = new Date(claim.takenUntil).getTime();
    expect(takenUntil).toBeGreaterThanOrEqual(before + 20 * 60_000);
    expect(takenUntil).toBeLessThan(before + 20 * 60_000 + 5000);
    expect(claim.credentials.clientId).toBe(`task-client/${taskId}/0/on/wg/wi/until/${takenUntil / 1000}`);
    const cert = JSON.parse(claim.credentials.certificate);
    expect(cert).toMatchObject({ version: 1, issuer: 'static/taskcluster/queue', expiry: takenUntil });
    expect(cert.scopes).toEqual([
      `queue:reclaim-task:${taskId}/0`,
      `queue:resolve-task:${taskId}/0`,
      `queue:create-artifact:${taskId}/0`,
      'secret:for-the-task',
    ]);

    const asWorker = queueClient(ty, claim.credentials);
    const reclaim = await asWorker.reclaimTask(taskId, 0);
    expect(reclaim).toMatchObject({
      runId: 0,
      workerGroup: 'wg',
      workerId: 'wi',
      status: { state: 'running' },
    });
    expect(new Date(reclaim.takenUntil).getTime()).toBeGreaterThanOrEqual(takenUntil);
    expect(reclaim.credentials.clientId).toMatch(new RegExp(`^task-client/${taskId}/0/on/wg/wi/until/`));

    const { status } = await queueClient(ty, reclaim.credentials).reportCompleted(taskId, 0);
    expect(status.state).toBe('completed');
    expect(status.runs).toEqual([
      {
        runId: 0,
        state: 'completed',
        reasonCreated: 'scheduled',
        reasonResolved: 'completed',
        workerGroup: 'wg',
        workerId: 'wi',
        takenUntil: reclaim.takenUntil,
        scheduled: expect.any(String),
        started: expect.any(String),
        resolved: expect.any(String),
      },
    ]);
    expect((await queueClient(ty).status(taskId)).status).toEqual(status);
  });

  it('answers claimWork at once when work is pending, and wakes a waiting claimWork as soon as work arrives', async () => {
    const tq = newQueue();
    const queue = queueClient(ty);
    await createIn(tq);
    let t0 = Date.now();
    expect((await queue.claimWork(tq, { ...worker, tasks: 1 })).tasks).toHaveLength(1);
    const immediateMs = Date.now() - t0;
    expect(immediateMs).toBeLessThan(5000);

    const claimer = workClaimerFor(ty.taskyard.queue!.context);
    const waiting = queue.claimWork(tq, { ...worker, tasks: 1 });
    await expect.poll(() => claimer.waiting, { timeout: 5000 }).toBe(1);
    t0 = Date.now();
    const taskId = await createIn(tq);
    const { tasks } = await waiting;
    const wokenMs = Date.now() - t0;
    expect(tasks.map((t: Untyped) => t.status.taskId)).toEqual([taskId]);
    // Well before the 20 s long-poll timeout (the NOTIFY wakes it; the fallback poll is 2-3 s).
    expect(wokenMs).toBeLessThan(5000);
    expect(claimer.waiting).toBe(0);
  });

  it('stops waiting when the client goes away', async () => {
    const tq = newQueue();
    const claimer = workClaimerFor(ty.taskyard.queue!.context);
    const impatient = queueClient(ty, ty.root, { timeout: 300 });
    const err = await rejection(impatient.claimWork(tq, { ...worker, tasks: 1 }));
    expect(err).toBeInstanceOf(Error);
    await expect.poll(() => claimer.waiting, { timeout: 3000 }).toBe(0);
  });

  it('claims up to `tasks` runs at once', async () => {
    const tq = newQueue();
    for (let i = 0; i < 5; i++) await createIn(tq);
    const queue = queueClient(ty);
    expect((await queue.claimWork(tq, { ...worker, tasks: 3 })).tasks).toHaveLength(3);
    expect((await queue.claimWork(tq, { ...worker, tasks: 3 })).tasks).toHaveLength(2);
  });

  it('claims the highest priority first, then the oldest', async () => {
    const tq = newQueue();
    const lowest = await createIn(tq, { priority: 'lowest' });
    const high1 = await createIn(tq, { priority: 'high' });
    const highest = await createIn(tq, { priority: 'highest' });
    const high2 = await createIn(tq, { priority: 'high' });
    const medium = await createIn(tq, { priority: 'medium' });
    const order: string[] = [];
    for (let i = 0; i < 5; i++) order.push((await claimOne(tq)).status.taskId);
    expect(order).toEqual([highest, high1, high2, medium, lowest]);
  });

  it('drops a pending entry whose run is no longer pending and claims the next one at once', async () => {
    const tq = newQueue();
    const done = await createIn(tq);
    const claim = await claimOne(tq);
    await queueClient(ty, claim.credentials).reportCompleted(done, 0);
    const next = await createIn(tq);
    await ty.testDb.db.query(
      'insert into queue_pending (task_queue_id, priority, task_id, run_id) values ($1, 100, $2, 0)',
      [tq, done],
    );
    expect((await claimOne(tq)).status.taskId).toBe(next);
    const left = await ty.testDb.db.query('select 1 from queue_pending where task_queue_id = $1', [tq]);
    expect(left.rowCount).toBe(0);
  });

  it('records a failed run, without retrying it', async () => {
    const tq = newQueue();
    const taskId = await createIn(tq);
    const claim = await claimOne(tq);
    const { status } = await queueClient(ty, claim.credentials).reportFailed(taskId, 0);
    expect(status).toMatchObject({
      state: 'failed',
      retriesLeft: 5,
      runs: [{ runId: 0, state: 'failed', reasonResolved: 'failed', workerId: 'wi' }],
    });
    expect(status.runs).toHaveLength(1);
  });

  it('retries a run after worker-shutdown while retries last, but not after malformed-payload', async () => {
    const tq = newQueue();
    const retried = await createIn(tq, { retries: 1 });
    let claim = await claimOne(tq);
    let { status } = await queueClient(ty, claim.credentials).reportException(retried, 0, {
      reason: 'worker-shutdown',
    });
    expect(status).toMatchObject({
      state: 'pending',
      retriesLeft: 0,
      runs: [
        { runId: 0, state: 'exception', reasonResolved: 'worker-shutdown' },
        { runId: 1, state: 'pending', reasonCreated: 'retry' },
      ],
    });
    claim = await claimOne(tq);
    expect(claim.runId).toBe(1);
    ({ status } = await queueClient(ty, claim.credentials).reportException(retried, 1, {
      reason: 'worker-shutdown',
    }));
    expect(status.state).toBe('exception');
    expect(status.runs).toHaveLength(2);

    const malformed = await createIn(tq);
    claim = await claimOne(tq);
    ({ status } = await queueClient(ty, claim.credentials).reportException(malformed, 0, {
      reason: 'malformed-payload',
    }));
    expect(status).toMatchObject({ state: 'exception', retriesLeft: 5 });
    expect(status.runs).toHaveLength(1);
  });

  it('retries an intermittent-task exception as a task-retry run', async () => {
    const tq = newQueue();
    const taskId = await createIn(tq);
    const claim = await claimOne(tq);
    const { status } = await queueClient(ty, claim.credentials).reportException(taskId, 0, {
      reason: 'intermittent-task',
    });
    expect(status).toMatchObject({
      state: 'pending',
      retriesLeft: 4,
      runs: [
        { state: 'exception', reasonResolved: 'intermittent-task' },
        { runId: 1, state: 'pending', reasonCreated: 'task-retry' },
      ],
    });
  });

  it('answers 200 to the same resolution again and 409 to a conflicting one', async () => {
    const tq = newQueue();
    const done = await createIn(tq);
    let claim = await claimOne(tq);
    let asWorker = queueClient(ty, claim.credentials);
    await asWorker.reportCompleted(done, 0);
    expect((await asWorker.reportCompleted(done, 0)).status.state).toBe('completed');
    expect((await rejection(asWorker.reportFailed(done, 0))).statusCode).toBe(409);
    const reported = await rejection(asWorker.reportException(done, 0, { reason: 'internal-error' }));
    expect(reported.statusCode).toBe(409);

    const shutdown = await createIn(tq);
    claim = await claimOne(tq);
    asWorker = queueClient(ty, claim.credentials);
    await asWorker.reportException(shutdown, 0, { reason: 'worker-shutdown' });
    const again = await asWorker.reportException(shutdown, 0, { reason: 'worker-shutdown' });
    expect(again.status.runs).toHaveLength(2);
    const other = await rejection(asWorker.reportException(shutdown, 0, { reason: 'internal-error' }));
    expect(other.statusCode).toBe(409);
    expect((await rejection(asWorker.reportCompleted(shutdown, 0))).statusCode).toBe(409);
  });

  it('refuses to resolve a run that is pending, and answers 404 for a missing task or run', async () => {
    const tq = newQueue();
    const taskId = await createIn(tq);
    const queue = queueClient(ty);
    expect((await rejection(queue.reportCompleted(taskId, 0))).statusCode).toBe(409);
    expect((await rejection(queue.reportCompleted(taskId, 3))).statusCode).toBe(404);
    expect((await rejection(queue.reclaimTask(taskId, 3))).statusCode).toBe(404);
    expect((await rejection(queue.reportFailed(newTaskId(), 0))).statusCode).toBe(404);
    expect((await rejection(queue.reclaimTask(taskId, 0))).statusCode).toBe(409);
  });

  it('answers 409 to reclaimTask and reportCompleted after the task was canceled', async () => {
    const tq = newQueue();
    const taskId = await createIn(tq);
    const claim = await claimOne(tq);
    await queueClient(ty).cancelTask(taskId);
    const asWorker = queueClient(ty, claim.credentials);
    const err = await rejection(asWorker.reclaimTask(taskId, 0));
    expect(err.statusCode).toBe(409);
    expect(err.message).toMatch(/canceled/);
    expect((await rejection(asWorker.reportCompleted(taskId, 0))).statusCode).toBe(409);
    const { status } = await queueClient(ty).status(taskId);
    expect(status.runs[0]).toMatchObject({ state: 'exception', reasonResolved: 'canceled', workerId: 'wi' });
  });

  it("gives credentials that work for the claimed run and are refused for another task's run", async () => {
    const tq = newQueue();
    const mine = await createIn(tq);
    const other = await createIn(tq);
    const { tasks } = await queueClient(ty).claimWork(tq, { ...worker, tasks: 2 });
    const byTask = new Map(tasks.map((t: Untyped) => [t.status.taskId, t]));
    const asMine = queueClient(ty, (byTask.get(mine) as Untyped).credentials);
    expect((await rejection(asMine.reclaimTask(other, 0))).statusCode).toBe(403);
    expect((await rejection(asMine.reportCompleted(other, 0))).statusCode).toBe(403);
    expect((await rejection(asMine.cancelTask(other))).statusCode).toBe(403);
    await asMine.reclaimTask(mine, 0);
    expect((await asMine.reportCompleted(mine, 0)).status.state).toBe('completed');
    expect((await queueClient(ty).status(other)).status.state).toBe('running');
  });

  it('requires the claim-work and worker-id scopes', async () => {
    const { makeClient } = await import('../../helpers/clients.ts');
    const tq = newQueue();
    const creds = await makeClient(ty, 'queue/worker-a', [`queue:claim-work:${tq}`, 'queue:worker-id:wg/a']);
    const queue = queueClient(ty, creds);
    await createIn(tq);
    expect((await rejection(queue.claimWork(tq, { workerGroup: 'wg', workerId: 'b' }))).statusCode).toBe(403);
    expect(
      (await rejection(queue.claimWork(newQueue(), { workerGroup: 'wg', workerId: 'a' }))).statusCode,
    ).toBe(403);
    expect((await queue.claimWork(tq, { workerGroup: 'wg', workerId: 'a' })).tasks).toHaveLength(1);
  });

  it('gives a quarantined worker no work', async () => {
    const tq = newQueue();
    const taskId = await createIn(tq);
    await ty.testDb.db.query(
      `insert into queue_workers (task_queue_id, worker_group, worker_id, quarantine_until, expires, first_claim)
       values ($1, 'wg', 'quarantined', $2, $2, $3)`,
      [tq, new Date(ty.clock.now.getTime() + 3600_000), ty.clock.now],
    );
    const settings = ty.taskyard.queue!.context.settings;
    const timeout = settings.claimWorkTimeoutMs;
    settings.claimWorkTimeoutMs = 500;
    try {
      const { tasks } = await queueClient(ty).claimWork(tq, { workerGroup: 'wg', workerId: 'quarantined' });
      expect(tasks).toEqual([]);
    } finally {
      settings.claimWorkTimeoutMs = timeout;
    }
    expect((await queueClient(ty).status(taskId)).status.state).toBe('pending');
    expect((await claimOne(tq)).status.taskId).toBe(taskId);
  });

  it('holds back a worker from its next claimWork once quarantined, in this process and in another', async () => {
    const tq = newQueue();
    const w = { workerGroup: 'wg', workerId: `q${Math.random().toString(36).slice(2, 8)}` };
    // Another server on the same database, with connections (and LISTENs) of its own, as a
    // second process would have: only PostgreSQL's NOTIFY reaches it.
    const otherDb = new Database({ url: ty.testDb.url });
    const other = await startTestTaskyard({
      database: { ...ty.testDb, db: otherDb, drop: async () => undefined },
      config: ty.config,
    });
    try {
      const claimers = [ty, other].map((t) => workClaimerFor(t.taskyard.queue!.context));
      for (const t of [ty, other]) {
        await createIn(tq);
        const { tasks } = await queueClient(t).claimWork(tq, { ...w, tasks: 1 });
        expect(tasks).toHaveLength(1);
      }
      // Both processes remember the worker as not quarantined: their next claimWork reads nothing.
      for (const c of claimers) expect(c.sightings.remembers({ taskQueueId: tq, ...w })).toBe(true);
      await queueClient(ty).quarantineWorker(tq.split('/')[0], tq.split('/')[1], w.workerGroup, w.workerId, {
        quarantineUntil: new Date(ty.clock.now.getTime() + 3600_000).toJSON(),
      });
      expect(claimers[0].sightings.remembers({ taskQueueId: tq, ...w })).toBe(false);
      await waitFor(
        async () => (claimers[1].sightings.remembers({ taskQueueId: tq, ...w }) ? undefined : true),
        'the other process to hear of the quarantine',
        10_000,
      );
      const taskId = await createIn(tq);
      for (const t of [ty, other]) {
        const settings = t.taskyard.queue!.context.settings;
        const timeout = settings.claimWorkTimeoutMs;
        settings.claimWorkTimeoutMs = 300;
        try {
          expect((await queueClient(t).claimWork(tq, { ...w, tasks: 1 })).tasks).toEqual([]);
        } finally {
          settings.claimWorkTimeoutMs = timeout;
        }
      }
      expect((await queueClient(ty).status(taskId)).status.state).toBe('pending');
    } finally {
      await other.stop();
      await otherDb.close();
    }
  });

  it('answers 500 naming the missing static client when the queue has no credentials, and claims nothing', async () => {
    const tq = newQueue();
    const taskId = await createIn(tq);
    const ctx = ty.taskyard.queue!.context;
    const credentials = ctx.credentials;
    ctx.credentials = undefined;
    try {
      const err = await rejection(queueClient(ty).claimWork(tq, { ...worker, tasks: 1 }));
      expect(err.statusCode).toBe(500);
      expect(err.message).toMatch(/static\/taskcluster\/queue/);
    } finally {
      ctx.credentials = credentials;
    }
    expect((await queueClient(ty).status(taskId)).status.state).toBe('pending');
  });

  it('claims a given run with the deprecated claimTask, idempotently for the same worker', async () => {
    const tq = newQueue();
    const taskId = await createIn(tq);
    const queue = queueClient(ty);
    const claim = await queue.claimTask(taskId, 0, worker);
    expect(claim).toMatchObject({
      runId: 0,
      ...worker,
      status: { state: 'running' },
      task: { taskQueueId: tq },
    });
    const again = await queue.claimTask(taskId, 0, worker);
    expect(again.takenUntil).toBe(claim.takenUntil);
    expect(
      (await rejection(queue.claimTask(taskId, 0, { workerGroup: 'wg', workerId: 'other' }))).statusCode,
    ).toBe(409);
    expect((await rejection(queue.claimTask(taskId, 1, worker))).statusCode).toBe(404);
    expect((await rejection(queue.claimTask(newTaskId(), 0, worker))).statusCode).toBe(404);
    expect((await queueClient(ty, again.credentials).reportCompleted(taskId, 0)).status.state).toBe(
      'completed',
    );
    expect((await rejection(queue.claimTask(taskId, 0, worker))).statusCode).toBe(409);
  });

  it("moves a worker's expires forward only once it lags by more than the refresh interval", async () => {
    const tq = newQueue();
    const w = { workerGroup: 'wg', workerId: `exp-${newTaskId()}` };
    const expiresOf = async () =>
      (
        await ty.testDb.db.query<{ expires: Date; recent: unknown[] }>(
          `select expires, recent_tasks as recent from queue_workers
           where task_queue_id = $1 and worker_group = $2 and worker_id = $3`,
          [tq, w.workerGroup, w.workerId],
        )
      ).rows[0];
    await createIn(tq);
    await claimOne(tq, w);
    const first = await expiresOf();
    const dayAhead = () => ty.clock.now.getTime() + SEEN_EXPIRY_MS;
    expect(Math.abs(first.expires.getTime() - dayAhead())).toBeLessThan(5000);
    let advanced = 0;
    try {
      // Within the refresh interval: recent tasks grow, expires stays.
      ty.clock.advance(SEEN_REFRESH_MS / 2);
      advanced += SEEN_REFRESH_MS / 2;
      await createIn(tq);
      await claimOne(tq, w);
      const second = await expiresOf();
      expect(second.recent).toHaveLength(2);
      expect(second.expires.getTime()).toBe(first.expires.getTime());
      // Past it: expires moves to a full expiry ahead again.
      ty.clock.advance(SEEN_REFRESH_MS);
      advanced += SEEN_REFRESH_MS;
      await createIn(tq);
      await claimOne(tq, w);
      const third = await expiresOf();
      expect(third.recent).toHaveLength(3);
      expect(Math.abs(third.expires.getTime() - dayAhead())).toBeLessThan(5000);
      expect(third.expires.getTime() - first.expires.getTime()).toBeGreaterThan(SEEN_REFRESH_MS);
    } finally {
      ty.clock.advance(-advanced);
    }
  });

  it('records the worker and its task queue as seen, with its last 20 tasks', async () => {
    const tq = newQueue();
    const first = await createIn(tq);
    await claimOne(tq, { workerGroup: 'wg', workerId: 'seen' });
    const seen = async () =>
      (
        await ty.testDb.db.query(
          `select w.recent_tasks, w.first_claim, q.expires from queue_workers w
           join queue_task_queues q using (task_queue_id)
           where w.task_queue_id = $1 and w.worker_group = 'wg' and w.worker_id = 'seen'`,
          [tq],
        )
      ).rows[0];
    const once = await seen();
    expect(once.recent_tasks).toEqual([{ taskId: first, runId: 0 }]);
    expect(once.expires.getTime()).toBeGreaterThan(ty.clock.now.getTime() + 23 * 3600_000);
    const prov = await ty.testDb.db.query(
      `select 1 from queue_provisioners where provisioner_id = 'test-prov'`,
    );
    expect(prov.rowCount).toBe(1);

    const more: string[] = [];
    for (let i = 0; i < 21; i++) more.push(await createIn(tq));
    const { tasks } = await queueClient(ty).claimWork(tq, { workerGroup: 'wg', workerId: 'seen', tasks: 32 });
    expect(tasks).toHaveLength(21);
    const after = await seen();
    expect(after.recent_tasks).toHaveLength(20);
    expect(after.recent_tasks).toEqual(
      tasks.slice(1).map((t: Untyped) => ({ taskId: t.status.taskId, runId: 0 })),
    );
    expect(after.first_claim).toEqual(once.first_claim);
  });
});

describe('built-in workers', () => {
  it('completes tasks in built-in/succeed and fails tasks in built-in/fail by themselves', async () => {
    const queue = queueClient(ty);
    const succeed = await createIn('built-in/succeed');
    const fail = await createIn('built-in/fail');
    const malformed = await createIn('built-in/succeed', { payload: { command: ['true'] } });
    await expect
      .poll(async () => (await queue.status(succeed)).status.state, { timeout: 10_000 })
      .toBe('completed');
    await expect
      .poll(async () => (await queue.status(fail)).status.state, { timeout: 10_000 })
      .toBe('failed');
    await expect
      .poll(async () => (await queue.status(malformed)).status.runs[0]?.reasonResolved, { timeout: 10_000 })
      .toBe('malformed-payload');
    expect((await queue.status(succeed)).status.runs[0]).toMatchObject({
      workerGroup: 'built-in',
      workerId: 'succeed',
      reasonResolved: 'completed',
    });
    expect((await queue.status(fail)).status.runs[0]).toMatchObject({ workerId: 'fail' });
  });
});

describe('dependencies and claims', () => {
  it('runs a chain A → B → C in order, each dependent pending once its dependency completed', async () => {
    const tq = newQueue();
    const queue = queueClient(ty);
    const a = await createIn(tq);
    const b = await createIn(tq, { dependencies: [a] });
    const c = await createIn(tq, { dependencies: [b] });
    for (const [current, next] of [
      [a, b],
      [b, c],
      [c, undefined],
    ] as const) {
      const claim = await claimOne(tq);
      expect(claim.status.taskId).toBe(current);
      if (next) expect((await queue.status(next)).status.state).toBe('unscheduled');
      await queueClient(ty, claim.credentials).reportCompleted(current, 0);
      if (next) {
        await expect
          .poll(async () => (await queue.status(next)).status.state, { timeout: 5000 })
          .toBe('pending');
      }
    }
    for (const t of [a, b, c]) expect((await queue.status(t)).status.state).toBe('completed');
  });
});
