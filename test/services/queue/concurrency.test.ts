import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveredMessage, InProcessBus } from '../../../src/platform/events/index.ts';
import { expireClaims } from '../../../src/services/queue/loops.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

const newQueue = () => `test-prov/w${Math.random().toString(36).slice(2, 10)}`;

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function inParallel<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]);
      }
    }),
  );
  return results;
}

describe('concurrent claimers', () => {
  let ty: TestTaskyard;
  beforeAll(async () => {
    ty = await startTestTaskyard();
    // Claimers that find nothing should give up quickly once everything is claimed.
    ty.taskyard.queue!.context.settings.claimWorkTimeoutMs = 1000;
  });
  afterAll(async () => ty?.stop());

  it('never hands the same run to two of 20 concurrent claimers, and together they claim all 300 tasks', async () => {
    const tq = newQueue();
    const total = 300;
    const queue = queueClient(ty);
    const claimed: Array<{ taskId: string; runId: number; workerId: string }> = [];
    const until = Date.now() + 60_000;
    // The claimers start first: most of the work arrives while they wait.
    const claimers = Array.from({ length: 20 }, async (_, i) => {
      const workerId = `w${i}`;
      while (claimed.length < total && Date.now() < until) {
        const { tasks } = await queue.claimWork(tq, { workerGroup: 'wg', workerId, tasks: 5 });
        for (const t of tasks as Untyped[])
          claimed.push({ taskId: t.status.taskId, runId: t.runId, workerId });
      }
    });
    const taskIds = Array.from({ length: total }, () => newTaskId());
    await inParallel(taskIds, 16, (taskId) => queue.createTask(taskId, taskDef(ty, { taskQueueId: tq })));
    await Promise.all(claimers);

    expect(claimed).toHaveLength(total);
    expect(new Set(claimed.map((c) => `${c.taskId}/${c.runId}`)).size).toBe(total);
    expect(new Set(claimed.map((c) => c.taskId))).toEqual(new Set(taskIds));
    expect(new Set(claimed.map((c) => c.workerId)).size).toBeGreaterThan(1);
    const rows = await ty.testDb.db.query<{ taskId: string; workerId: string; state: string; runs: number }>(
      `select task_id as "taskId", runs -> 0 ->> 'workerId' as "workerId", runs -> 0 ->> 'state' as state,
         jsonb_array_length(runs) as runs
       from queue_tasks where task_queue_id = $1`,
      [tq],
    );
    const byTask = new Map(claimed.map((c) => [c.taskId, c.workerId]));
    for (const row of rows.rows) {
      expect(row).toMatchObject({ state: 'running', runs: 1, workerId: byTask.get(row.taskId) });
    }
    const pending = await ty.testDb.db.query(
      'select count(*)::int as n from queue_pending where task_queue_id = $1',
      [tq],
    );
    expect(pending.rows[0].n).toBe(0);
  }, 90_000);
});

describe('two processes on one database', () => {
  let a: TestTaskyard;
  let b: TestTaskyard;
  const CLAIM_MS = 60_000;
  beforeAll(async () => {
    a = await startTestTaskyard();
    b = await startTestTaskyard({
      database: a.testDb,
      config: { accessTokenKey: a.config.accessTokenKey, staticClients: a.config.staticClients },
    });
    for (const ty of [a, b]) {
      ty.taskyard.queue!.context.settings.claimTimeoutMs = CLAIM_MS;
      ty.taskyard.queue!.context.settings.claimWorkTimeoutMs = 1000;
    }
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  /** Every message of these exchanges, whichever process's relay published it. */
  async function collect(exchanges: string[]) {
    const messages: DeliveredMessage[] = [];
    for (const ty of [a, b]) {
      await ty.bus.consume({
        queueName: `test-${Math.random().toString(36).slice(2)}`,
        bindings: exchanges.map((e) => ({ exchange: `exchange/taskcluster-queue/v1/${e}`, pattern: '#' })),
        handler: async (msg) => {
          messages.push(msg);
        },
      });
    }
    return {
      messages,
      async flush() {
        // Each relay's drainOnce waits for that relay's own batch in flight; twice round catches
        // events one relay had locked while the other looked.
        for (let i = 0; i < 2; i++) {
          for (const ty of [a, b]) while ((await ty.taskyard.relay.drainOnce()) > 0) {}
        }
        for (const ty of [a, b]) await (ty.bus as InProcessBus).waitIdle();
      },
    };
  }

  async function claimAll(ty: TestTaskyard, tq: string, n: number, workerId: string): Promise<Untyped[]> {
    const claims: Untyped[] = [];
    while (claims.length < n) {
      const { tasks } = await queueClient(ty).claimWork(tq, { workerGroup: 'wg', workerId, tasks: 32 });
      expect(tasks.length).toBeGreaterThan(0);
      claims.push(...tasks);
    }
    return claims;
  }

  it('expires each claim once and resolves each run once while both run every loop', async () => {
    const tq = newQueue();
    const n = 60;
    const taskGroupId = newTaskId();
    const events = await collect(['task-exception', 'task-completed', 'task-failed', 'task-group-resolved']);
    const ofGroup = (exchange: string) =>
      events.messages.filter(
        (m) =>
          m.exchange === `exchange/taskcluster-queue/v1/${exchange}` &&
          (m.payload as { status?: { taskGroupId: string }; taskGroupId?: string }).status?.taskGroupId ===
            taskGroupId,
      );
    const taskIds = Array.from({ length: n }, () => newTaskId());
    await inParallel(
      taskIds.map((taskId, i) => ({ taskId, via: i % 2 ? a : b })),
      16,
      ({ taskId, via }) =>
        queueClient(via).createTask(taskId, taskDef(a, { taskQueueId: tq, taskGroupId, retries: 1 })),
    );

    // Claimed through one process and never reclaimed; then both processes' clocks pass takenUntil.
    await claimAll(a, tq, n, 'doomed');
    a.clock.advance(CLAIM_MS + 2000);
    b.clock.advance(CLAIM_MS + 2000);
    const explicit = await Promise.all([
      expireClaims(a.taskyard.queue!.context),
      expireClaims(b.taskyard.queue!.context),
      expireClaims(a.taskyard.queue!.context),
    ]);
    expect(explicit.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(n);
    await expect
      .poll(
        async () =>
          (
            await a.testDb.db.query(
              `select count(*)::int as n from queue_tasks where task_group_id = $1 and runs -> 1 ->> 'state' = 'pending'`,
              [taskGroupId],
            )
          ).rows[0].n,
        { timeout: 10_000 },
      )
      .toBe(n);

    // The retries, claimed through both processes at once, each reported twice (once per process).
    const claims: Untyped[] = [];
    await Promise.all(
      [a, b].map(async (ty, i) => {
        while (claims.length < n) {
          const { tasks } = await queueClient(ty).claimWork(tq, {
            workerGroup: 'wg',
            workerId: `w${i}`,
            tasks: 8,
          });
          claims.push(...tasks);
        }
      }),
    );
    expect(claims).toHaveLength(n);
    expect(new Set(claims.map((c) => c.status.taskId)).size).toBe(n);
    await inParallel(claims, 16, async (c: Untyped) => {
      const [first, second] = await Promise.allSettled(
        [a, b].map((ty) =>
          taskIds.indexOf(c.status.taskId) % 3 === 0
            ? queueClient(ty, c.credentials).reportFailed(c.status.taskId, c.runId)
            : queueClient(ty, c.credentials).reportCompleted(c.status.taskId, c.runId),
        ),
      );
      expect([first.status, second.status]).toEqual(['fulfilled', 'fulfilled']);
    });

    await events.flush();
    const exceptions = ofGroup('task-exception');
    expect(exceptions).toHaveLength(n);
    expect(
      new Set(exceptions.map((m) => (m.payload as { status: { taskId: string } }).status.taskId)).size,
    ).toBe(n);
    for (const m of exceptions) {
      expect(m.payload).toMatchObject({ runId: 0, workerId: 'doomed' });
    }
    const failed = taskIds.filter((_, i) => i % 3 === 0).length;
    expect(ofGroup('task-completed')).toHaveLength(n - failed);
    expect(ofGroup('task-failed')).toHaveLength(failed);
    const groupResolved = events.messages.filter(
      (m) => (m.payload as { taskGroupId?: string }).taskGroupId === taskGroupId,
    );
    expect(groupResolved).toHaveLength(1);

    const rows = await a.testDb.db.query<{ runs: Untyped[] }>(
      'select runs from queue_tasks where task_group_id = $1',
      [taskGroupId],
    );
    expect(rows.rows).toHaveLength(n);
    for (const { runs } of rows.rows) {
      expect(runs).toHaveLength(2);
      expect(runs[0]).toMatchObject({
        state: 'exception',
        reasonResolved: 'claim-expired',
        workerId: 'doomed',
      });
      expect(['completed', 'failed']).toContain(runs[1].state);
    }
    const resolutions = await a.testDb.db.query<{ n: number }>(
      'select unresolved as n from queue_task_groups where task_group_id = $1',
      [taskGroupId],
    );
    expect(resolutions.rows[0].n).toBe(0);
  }, 90_000);
});

describe('concurrent reports (written in batches)', () => {
  let ty: TestTaskyard;
  beforeAll(async () => {
    ty = await startTestTaskyard();
  });
  afterAll(async () => ty?.stop());

  it('answers each report as if alone: resolved once, repeats are no-ops, 404 and 409 stay their own', async () => {
    const tq = newQueue();
    const taskGroupId = newTaskId();
    const queue = queueClient(ty);
    const events: DeliveredMessage[] = [];
    await ty.bus.consume({
      queueName: `test-${Math.random().toString(36).slice(2)}`,
      bindings: ['task-completed', 'task-failed', 'task-group-resolved'].map((e) => ({
        exchange: `exchange/taskcluster-queue/v1/${e}`,
        pattern: '#',
      })),
      handler: async (msg) => {
        events.push(msg);
      },
    });
    const running = Array.from({ length: 30 }, () => newTaskId());
    const pending = newTaskId();
    for (const taskId of [...running, pending]) {
      await queue.createTask(taskId, taskDef(ty, { taskQueueId: tq, taskGroupId }));
    }
    const claimed = new Set<string>();
    while (claimed.size < running.length) {
      const { tasks } = await queue.claimWork(tq, {
        workerGroup: 'wg',
        workerId: 'w',
        tasks: running.length - claimed.size,
      });
      for (const t of tasks) claimed.add(t.status.taskId);
    }
    // One task stays pending: the claims above took 30 of the 31, in creation order.
    const stillPending = [...running, pending].find((id) => !claimed.has(id))!;
    const reports = [
      ...[...claimed].map((id, i) =>
        i % 5 === 0 ? queue.reportFailed(id, 0) : queue.reportCompleted(id, 0),
      ),
      // The same report again, at the same time.
      ...[...claimed].slice(1, 4).map((id) => queue.reportCompleted(id, 0)),
      queue.reportCompleted(newTaskId(), 0),
      queue.reportCompleted(stillPending, 0),
    ];
    const results = await Promise.allSettled(reports);
    const n = claimed.size;
    for (const r of results.slice(0, n + 3)) expect(r.status).toBe('fulfilled');
    expect(results[n + 3]).toMatchObject({ status: 'rejected', reason: { statusCode: 404 } });
    expect(results[n + 4]).toMatchObject({ status: 'rejected', reason: { statusCode: 409 } });
    await ty.taskyard.relay.drainOnce();
    await (ty.bus as InProcessBus).waitIdle();
    const ofTask = (id: string) =>
      events.filter((m) => (m.payload as { status?: { taskId: string } }).status?.taskId === id);
    for (const [i, id] of [...claimed].entries()) {
      const status = (await queue.status(id)).status;
      expect(status.state).toBe(i % 5 === 0 ? 'failed' : 'completed');
      expect(ofTask(id)).toHaveLength(1);
    }
    // The pending task keeps the group unresolved: no task-group-resolved yet.
    expect(events.filter((m) => m.exchange.endsWith('task-group-resolved'))).toHaveLength(0);
    const group = await ty.testDb.db.query(
      'select unresolved from queue_task_groups where task_group_id = $1',
      [taskGroupId],
    );
    expect(group.rows[0].unresolved).toBe(1);
  }, 60_000);
});
