import apis from 'taskcluster-client/src/apis.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClient, rejection } from '../../helpers/clients.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
});
afterAll(async () => ty?.stop());

const DAY = 86400e3;
const at = (offsetMs: number) => new Date(ty.clock.now.getTime() + offsetMs);

/** Creates `n` pending tasks in a task queue; their taskIds in creation order. */
async function createTasks(taskQueueId: string, n: number): Promise<string[]> {
  const queue = queueClient(ty);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const taskId = newTaskId();
    await queue.createTask(taskId, taskDef(ty, { taskQueueId }));
    ids.push(taskId);
  }
  return ids;
}

/** What claimWork does to a task, written directly: its run runs on this worker. */
async function markClaimed(taskId: string, workerGroup: string, workerId: string, started: Date) {
  const db = ty.testDb.db;
  const takenUntil = new Date(started.getTime() + 20 * 60e3);
  const { rows } = await db.query<{ runs: Array<Record<string, unknown>> }>(
    'select runs from queue_tasks where task_id = $1',
    [taskId],
  );
  const runs = rows[0].runs;
  runs[runs.length - 1] = {
    ...runs[runs.length - 1],
    state: 'running',
    workerGroup,
    workerId,
    started: started.toJSON(),
    takenUntil: takenUntil.toJSON(),
  };
  await db.query('update queue_tasks set runs = $2, taken_until = $3 where task_id = $1', [
    taskId,
    JSON.stringify(runs),
    takenUntil,
  ]);
  await db.query('delete from queue_pending where task_id = $1', [taskId]);
}

/** What claimWork records when a worker claims from a task queue, written directly. */
async function seeWorker(
  taskQueueId: string,
  workerGroup: string,
  workerId: string,
  over: { expires?: Date; recentTasks?: Array<{ taskId: string; runId: number }> } = {},
) {
  const db = ty.testDb.db;
  const now = at(0);
  const expires = new Date(now.getTime() + DAY);
  await db.query(
    `insert into queue_task_queues (task_queue_id, expires, last_date_active) values ($1, $2, $3)
     on conflict (task_queue_id) do update set expires = excluded.expires`,
    [taskQueueId, expires, now],
  );
  await db.query(
    `insert into queue_workers (task_queue_id, worker_group, worker_id, expires, first_claim, last_date_active,
       recent_tasks)
     values ($1, $2, $3, $4, $5, $5, $6)`,
    [
      taskQueueId,
      workerGroup,
      workerId,
      over.expires ?? expires,
      now,
      JSON.stringify(over.recentTasks ?? []),
    ],
  );
  return { now, expires };
}

describe('pending and claimed tasks', () => {
  it('counts the pending tasks of a task queue, and the claimed ones', async () => {
    const queue = queueClient(ty);
    const [first] = await createTasks('counts-prov/counted', 3);
    await createTasks('counts-prov/other', 1);
    expect(await queue.pendingTasks('counts-prov/counted')).toEqual({
      provisionerId: 'counts-prov',
      workerType: 'counted',
      taskQueueId: 'counts-prov/counted',
      pendingTasks: 3,
    });
    await markClaimed(first, 'wg', 'w1', at(0));
    expect(await queue.taskQueueCounts('counts-prov/counted')).toEqual({
      provisionerId: 'counts-prov',
      workerType: 'counted',
      taskQueueId: 'counts-prov/counted',
      pendingTasks: 2,
      claimedTasks: 1,
    });
    expect(await queue.taskQueueCounts('counts-prov/never-used')).toMatchObject({
      pendingTasks: 0,
      claimedTasks: 0,
    });
  });

  it('lists pending tasks oldest first, a page at a time', async () => {
    const queue = queueClient(ty);
    const ids = await createTasks('list-prov/pending', 3);
    const first = await queue.listPendingTasks('list-prov/pending', { limit: 2 });
    expect(first.tasks.map((t: { taskId: string }) => t.taskId)).toEqual(ids.slice(0, 2));
    expect(first.tasks[0]).toMatchObject({
      runId: 0,
      task: { taskQueueId: 'list-prov/pending', metadata: { name: 'test' } },
    });
    const { status } = await queue.status(ids[0]);
    expect(first.tasks[0].inserted).toBe(status.runs[0].scheduled);
    expect(first.continuationToken).toEqual(expect.any(String));
    const second = await queue.listPendingTasks('list-prov/pending', {
      limit: 2,
      continuationToken: first.continuationToken,
    });
    expect(second.tasks.map((t: { taskId: string }) => t.taskId)).toEqual(ids.slice(2));
    expect(second.continuationToken).toBeUndefined();
    expect((await queue.listPendingTasks('list-prov/nothing-here')).tasks).toEqual([]);
  });

  it('lists claimed tasks earliest claim first, with the worker holding each', async () => {
    const queue = queueClient(ty);
    const [a, b, c] = await createTasks('list-prov/claimed', 3);
    const claimedB = at(-2000);
    await markClaimed(b, 'wg', 'worker-b', claimedB);
    await markClaimed(a, 'wg', 'worker-a', at(-1000));
    const first = await queue.listClaimedTasks('list-prov/claimed', { limit: 1 });
    expect(first.tasks).toEqual([
      {
        taskId: b,
        runId: 0,
        workerGroup: 'wg',
        workerId: 'worker-b',
        claimed: claimedB.toJSON(),
        task: expect.objectContaining({ taskQueueId: 'list-prov/claimed' }),
      },
    ]);
    const second = await queue.listClaimedTasks('list-prov/claimed', {
      continuationToken: first.continuationToken,
    });
    expect(second.tasks.map((t: { taskId: string }) => t.taskId)).toEqual([a]);
    expect(second.continuationToken).toBeUndefined();
    expect(
      (await queue.listPendingTasks('list-prov/claimed')).tasks.map((t: { taskId: string }) => t.taskId),
    ).toEqual([c]);
  });

  it('takes the task queue URL-encoded as the official client sends it, and refuses a malformed one', async () => {
    const res = await fetch(`${ty.rootUrl}/api/queue/v1/pending/enc-prov%2Fenc-wt`);
    // Past routing and the parameter check (a 404 or 400 would mean the `%2F` was not understood).
    expect([200, 403]).toContain(res.status);
    const err = await rejection(queueClient(ty).pendingTasks('no-slash'));
    expect(err.statusCode).toBe(400);
    expect(err.message).toMatch(/taskQueueId/);
  });
});

describe('task queues, provisioners and worker types', () => {
  it('shows a task queue once a worker has claimed from it, under all three names', async () => {
    const queue = queueClient(ty);
    const seen = await seeWorker('seen-prov/seen-wt', 'wg', 'w1');
    const tq = await queue.getTaskQueue('seen-prov/seen-wt');
    expect(tq).toEqual({
      taskQueueId: 'seen-prov/seen-wt',
      stability: 'experimental',
      description: '',
      expires: seen.expires.toJSON(),
      lastDateActive: seen.now.toJSON(),
    });
    const all = await queue.listTaskQueues();
    expect(all.taskQueues.map((q: { taskQueueId: string }) => q.taskQueueId)).toContain('seen-prov/seen-wt');
    const provisioner = await queue.getProvisioner('seen-prov');
    expect(provisioner).toMatchObject({
      provisionerId: 'seen-prov',
      stability: 'experimental',
      description: '',
      expires: tq.expires,
      actions: [],
    });
    const { provisioners } = await queue.listProvisioners();
    expect(provisioners.find((p: { provisionerId: string }) => p.provisionerId === 'seen-prov')).toEqual(
      provisioner,
    );
    expect(await queue.getWorkerType('seen-prov', 'seen-wt')).toEqual({
      provisionerId: 'seen-prov',
      workerType: 'seen-wt',
      ...tq,
      actions: [],
    });
    expect((await queue.listWorkerTypes('seen-prov')).workerTypes).toEqual([
      { provisionerId: 'seen-prov', workerType: 'seen-wt', ...tq },
    ]);
  });

  it('declares a worker type, which then shows as a task queue', async () => {
    const queue = queueClient(ty);
    const wt = await queue.declareWorkerType('decl-prov', 'declared-wt', {
      description: 'GPU machines',
      stability: 'stable',
    });
    expect(wt).toMatchObject({
      provisionerId: 'decl-prov',
      workerType: 'declared-wt',
      taskQueueId: 'decl-prov/declared-wt',
      description: 'GPU machines',
      stability: 'stable',
      actions: [],
    });
    expect(new Date(wt.expires).getTime()).toBeGreaterThan(at(4 * DAY).getTime());
    expect(await queue.getTaskQueue('decl-prov/declared-wt')).toMatchObject({
      description: 'GPU machines',
      stability: 'stable',
    });
    expect((await queue.getProvisioner('decl-prov')).expires).toBe(wt.expires);
    const again = await queue.declareWorkerType('decl-prov', 'declared-wt', { description: 'CPU now' });
    expect(again).toMatchObject({ description: 'CPU now', stability: 'stable' });
  });

  it('declares a provisioner with the scope of each property it sets', async () => {
    const root = queueClient(ty);
    const provisioner = await root.declareProvisioner('named-prov', {
      description: 'the cloud',
      stability: 'deprecated',
    });
    expect(provisioner).toMatchObject({
      provisionerId: 'named-prov',
      description: 'the cloud',
      stability: 'deprecated',
      actions: [],
    });
    expect(await root.getProvisioner('named-prov')).toEqual(provisioner);

    const limited = queueClient(
      ty,
      await makeClient(ty, 'queue/provisioner-admin', ['queue:declare-provisioner:named-prov#description']),
    );
    expect(await limited.declareProvisioner('named-prov', { description: 'a cloud' })).toMatchObject({
      description: 'a cloud',
      stability: 'deprecated',
    });
    const err = await rejection(
      limited.declareProvisioner('named-prov', { description: 'x', stability: 'stable' }),
    );
    expect(err.statusCode).toBe(403);
    expect(err.message).toContain('queue:declare-provisioner:named-prov#stability');
  });

  it('pages through task queues and provisioners', async () => {
    const queue = queueClient(ty);
    for (const name of ['page-a', 'page-b', 'page-c']) {
      await queue.declareWorkerType(`${name}-prov`, 'wt', { description: name });
    }
    const seen: string[] = [];
    let continuationToken: string | undefined;
    do {
      const res = await queue.listTaskQueues({
        limit: 1,
        ...(continuationToken ? { continuationToken } : {}),
      });
      expect(res.taskQueues.length).toBeLessThanOrEqual(1);
      seen.push(...res.taskQueues.map((q: { taskQueueId: string }) => q.taskQueueId));
      continuationToken = res.continuationToken;
    } while (continuationToken);
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(expect.arrayContaining(['page-a-prov/wt', 'page-b-prov/wt', 'page-c-prov/wt']));
    const first = await queue.listProvisioners({ limit: 2 });
    const rest = await queue.listProvisioners({ continuationToken: first.continuationToken });
    const ids = [...first.provisioners, ...rest.provisioners].map(
      (p: { provisionerId: string }) => p.provisionerId,
    );
    expect(ids).toEqual([...new Set(ids)].sort());
    expect(ids).toEqual(expect.arrayContaining(['page-a-prov', 'page-b-prov', 'page-c-prov']));
  });

  it('answers 404 with a clear message for what it does not know, or what expired', async () => {
    const queue = queueClient(ty);
    await ty.testDb.db.query(
      'insert into queue_task_queues (task_queue_id, expires, last_date_active) values ($1, $2, $2)',
      ['old-prov/old-wt', at(-60e3)],
    );
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [() => queue.getTaskQueue('nope-prov/nope'), /task queue nope-prov\/nope not found/],
      [() => queue.getTaskQueue('old-prov/old-wt'), /task queue old-prov\/old-wt not found/],
      [() => queue.getProvisioner('nope-prov'), /provisioner nope-prov not found/],
      [() => queue.getProvisioner('old-prov'), /provisioner old-prov not found/],
      [() => queue.getWorkerType('nope-prov', 'nope'), /worker type nope of provisioner nope-prov not found/],
      [
        () => queue.getWorker('nope-prov', 'nope', 'wg', 'wid'),
        /worker wg\/wid of task queue nope-prov\/nope not found/,
      ],
      [
        () => queue.quarantineWorker('nope-prov', 'nope', 'wg', 'wid', { quarantineUntil: at(DAY).toJSON() }),
        /worker wg\/wid .* not found/,
      ],
      [() => queue.declareProvisioner('nope-prov', {}), /provisioner nope-prov not found/],
    ];
    for (const [call, message] of cases) {
      const err = await rejection(call());
      expect(err.statusCode, String(message)).toBe(404);
      expect(err.code).toBe('ResourceNotFound');
      expect(err.message).toMatch(message);
    }
    expect((await queue.listWorkerTypes('nope-prov')).workerTypes).toEqual([]);
    expect((await queue.listWorkers('nope-prov', 'nope')).workers).toEqual([]);
  });
});

describe('workers', () => {
  it('shows a worker that claimed work, with its recent tasks', async () => {
    const queue = queueClient(ty);
    const recentTasks = [
      { taskId: newTaskId(), runId: 0 },
      { taskId: newTaskId(), runId: 2 },
    ];
    const seen = await seeWorker('wk-prov/show', 'wg', 'busy', { recentTasks });
    const worker = await queue.getWorker('wk-prov', 'show', 'wg', 'busy');
    expect(worker).toMatchObject({
      provisionerId: 'wk-prov',
      workerType: 'show',
      taskQueueId: 'wk-prov/show',
      workerGroup: 'wg',
      workerId: 'busy',
      recentTasks,
      expires: seen.expires.toJSON(),
      firstClaim: seen.now.toJSON(),
      lastDateActive: seen.now.toJSON(),
      actions: [],
    });
    expect(new Date(worker.quarantineUntil).getTime()).toBeLessThan(Date.now());
    expect((await queue.listWorkers('wk-prov', 'show')).workers).toEqual([
      {
        workerGroup: 'wg',
        workerId: 'busy',
        firstClaim: seen.now.toJSON(),
        lastDateActive: seen.now.toJSON(),
        latestTask: recentTasks[1],
      },
    ]);
  });

  it('quarantines a worker: getWorker shows until when, and listWorkers filters on it', async () => {
    const root = queueClient(ty);
    await seeWorker('wk-prov/quar', 'wg', 'bad');
    await seeWorker('wk-prov/quar', 'wg', 'good');
    const until = at(DAY).toJSON();
    const creds = await makeClient(ty, 'queue/sheriff', ['queue:quarantine-worker:wk-prov/quar/*']);
    const quarantined = await queueClient(ty, creds).quarantineWorker('wk-prov', 'quar', 'wg', 'bad', {
      quarantineUntil: until,
      quarantineInfo: 'flaky disk',
    });
    expect(quarantined).toMatchObject({ workerId: 'bad', quarantineUntil: until });
    const worker = await root.getWorker('wk-prov', 'quar', 'wg', 'bad');
    expect(worker.quarantineUntil).toBe(until);
    expect(worker.quarantineDetails).toEqual([
      {
        clientId: 'queue/sheriff',
        quarantineUntil: until,
        updatedAt: expect.any(String),
        quarantineInfo: 'flaky disk',
      },
    ]);
    const ids = async (q?: string) =>
      (await root.listWorkers('wk-prov', 'quar', q ? { quarantined: q } : {})).workers.map(
        (w: { workerId: string }) => w.workerId,
      );
    expect(await ids()).toEqual(['bad', 'good']);
    expect(await ids('true')).toEqual(['bad']);
    expect(await ids('false')).toEqual(['good']);
    const listed = await root.listWorkers('wk-prov', 'quar', { quarantined: 'true' });
    expect(listed.workers[0].quarantineUntil).toBe(until);

    const lifted = await root.quarantineWorker('wk-prov', 'quar', 'wg', 'bad', {
      quarantineUntil: at(-1000).toJSON(),
    });
    expect(lifted.quarantineDetails).toHaveLength(2);
    expect(lifted.quarantineDetails[1]).toMatchObject({ quarantineInfo: '[unspecified]' });
    expect(await ids('true')).toEqual([]);
    const other = await rejection(
      queueClient(ty, creds).quarantineWorker('wk-prov', 'other', 'wg', 'bad', { quarantineUntil: until }),
    );
    expect(other.statusCode).toBe(403);
  });

  it('keeps a quarantined worker visible after it would have expired', async () => {
    const queue = queueClient(ty);
    await seeWorker('wk-prov/stale', 'wg', 'gone', { expires: at(-1000) });
    await seeWorker('wk-prov/stale', 'wg', 'held', { expires: at(-1000) });
    await ty.testDb.db.query(
      `update queue_workers set quarantine_until = $1 where task_queue_id = 'wk-prov/stale' and worker_id = 'held'`,
      [at(DAY)],
    );
    expect((await rejection(queue.getWorker('wk-prov', 'stale', 'wg', 'gone'))).statusCode).toBe(404);
    expect((await queue.getWorker('wk-prov', 'stale', 'wg', 'held')).workerId).toBe('held');
    expect(
      (await queue.listWorkers('wk-prov', 'stale')).workers.map((w: { workerId: string }) => w.workerId),
    ).toEqual(['held']);
  });

  it('pages through workers', async () => {
    const queue = queueClient(ty);
    for (const id of ['w1', 'w2', 'w3']) await seeWorker('wk-prov/many', 'wg', id);
    const first = await queue.listWorkers('wk-prov', 'many', { limit: 2 });
    expect(first.workers.map((w: { workerId: string }) => w.workerId)).toEqual(['w1', 'w2']);
    const second = await queue.listWorkers('wk-prov', 'many', {
      limit: 2,
      continuationToken: first.continuationToken,
    });
    expect(second.workers.map((w: { workerId: string }) => w.workerId)).toEqual(['w3']);
    expect(second.continuationToken).toBeUndefined();
  });

  it('declares a worker only with the scope of each property it sets', async () => {
    const expires = at(2 * DAY).toJSON();
    const none = queueClient(ty, await makeClient(ty, 'queue/no-declare', ['queue:get-worker:*']));
    const err = await rejection(none.declareWorker('dw-prov', 'dw-wt', 'wg', 'new', { expires }));
    expect(err.statusCode).toBe(403);
    expect(err.message).toContain('queue:declare-worker:dw-prov/dw-wt/wg/new#expires');
    expect((await rejection(none.getWorker('dw-prov', 'dw-wt', 'wg', 'new'))).statusCode).toBe(404);

    const allowed = queueClient(
      ty,
      await makeClient(ty, 'queue/declarer', ['queue:declare-worker:dw-prov/dw-wt/wg/new#expires']),
    );
    const worker = await allowed.declareWorker('dw-prov', 'dw-wt', 'wg', 'new', { expires });
    expect(worker).toMatchObject({
      provisionerId: 'dw-prov',
      workerType: 'dw-wt',
      workerGroup: 'wg',
      workerId: 'new',
      expires,
      recentTasks: [],
      actions: [],
    });
    expect(await none.getWorker('dw-prov', 'dw-wt', 'wg', 'new')).toEqual(worker);
    const tq = await queueClient(ty).getTaskQueue('dw-prov/dw-wt');
    expect(tq.expires).toBe(expires);
  });

  it('refuses bad input with a 400 naming the problem', async () => {
    const queue = queueClient(ty);
    await seeWorker('wk-prov/bad-input', 'wg', 'w');
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [
        () => queue.quarantineWorker('wk-prov', 'bad-input', 'wg', 'w', { quarantineUntil: 'tomorrow' }),
        /quarantineUntil/,
      ],
      [() => queue.quarantineWorker('wk-prov', 'bad-input', 'wg', 'w', {}), /quarantineUntil/],
      [
        () =>
          queue.declareWorker('wk-prov', 'bad-input', 'wg', 'w', { expires: at(DAY).toJSON(), color: 'red' }),
        /color/,
      ],
      [() => queue.declareProvisioner('wk-prov', { stability: 'shaky' }), /stability/],
      [() => queue.declareWorkerType('wk-prov', 'Upper', { description: 'x' }), /workerType/],
      [() => queue.listWorkers('wk-prov', 'bad-input', { quarantined: 'maybe' }), /quarantined/],
      [() => queue.listTaskQueues({ continuationToken: 'garbage' }), /continuationToken/],
      [() => queue.getWorker('wk-prov', 'bad-input', 'wg', 'x'.repeat(39)), /workerId/],
    ];
    for (const [call, message] of cases) {
      const err = await rejection(call());
      expect(err.statusCode, String(message)).toBe(400);
      expect(err.message).toMatch(message);
    }
  });
});

describe('with claimWork', () => {
  it('shows what a claim records: the task queue, the worker, its task and the claimed count', async () => {
    const queue = queueClient(ty);
    const [taskId] = await createTasks('claim-prov/real', 1);
    const { tasks } = await queue.claimWork('claim-prov/real', {
      workerGroup: 'wg',
      workerId: 'claimer',
      tasks: 1,
    });
    expect(tasks.map((t: { status: { taskId: string } }) => t.status.taskId)).toEqual([taskId]);
    expect(await queue.taskQueueCounts('claim-prov/real')).toMatchObject({
      pendingTasks: 0,
      claimedTasks: 1,
    });
    const claimed = await queue.listClaimedTasks('claim-prov/real');
    expect(claimed.tasks).toEqual([expect.objectContaining({ taskId, runId: 0, workerId: 'claimer' })]);
    expect((await queue.getTaskQueue('claim-prov/real')).taskQueueId).toBe('claim-prov/real');
    expect((await queue.getProvisioner('claim-prov')).provisionerId).toBe('claim-prov');
    const worker = await queue.getWorker('claim-prov', 'real', 'wg', 'claimer');
    expect(worker.recentTasks).toEqual([{ taskId, runId: 0 }]);
    expect((await queue.listWorkers('claim-prov', 'real')).workers).toEqual([
      expect.objectContaining({ workerId: 'claimer', latestTask: { taskId, runId: 0 } }),
    ]);
  });

  it('keeps each worker its own last 20 claims when several claim at once', async () => {
    const queue = queueClient(ty);
    const taskIds = await createTasks('claim-prov/many', 30);
    const claimsOf = async (workerId: string) => {
      const got: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { tasks } = await queue.claimWork('claim-prov/many', { workerGroup: 'wg', workerId, tasks: 4 });
        got.push(...tasks.map((t: { status: { taskId: string } }) => t.status.taskId));
      }
      return got;
    };
    // Two workers at once (their claims may share transactions), then one more claim of 6.
    const [a, b] = await Promise.all([claimsOf('many-a'), claimsOf('many-b')]);
    expect(new Set([...a, ...b]).size).toBe(24);
    const { tasks } = await queue.claimWork('claim-prov/many', {
      workerGroup: 'wg',
      workerId: 'many-a',
      tasks: 6,
    });
    const aAll = [...a, ...tasks.map((t: { status: { taskId: string } }) => t.status.taskId)];
    const recentOf = async (workerId: string) =>
      (await queue.getWorker('claim-prov', 'many', 'wg', workerId)).recentTasks.map(
        (r: { taskId: string }) => r.taskId,
      );
    expect(await recentOf('many-a')).toEqual(aAll.slice(-20));
    expect(await recentOf('many-b')).toEqual(b);
    expect(taskIds).toEqual(expect.arrayContaining([...aAll, ...b]));
  });
});

describe('the API reference', () => {
  it('declares these endpoints as the official client knows them', async () => {
    const res = await fetch(`${ty.rootUrl}/references/queue/v1/api.json`);
    const ref = (await res.json()) as { entries: Array<Record<string, unknown>> };
    const ours = new Map(ref.entries.map((e) => [e.name, e]));
    const names =
      /^(pendingTasks|taskQueueCounts|listPendingTasks|listClaimedTasks|listTaskQueues|getTaskQueue|listProvisioners|getProvisioner|declareProvisioner|listWorkerTypes|getWorkerType|declareWorkerType|listWorkers|getWorker|quarantineWorker|declareWorker)$/;
    const upstream = (apis.Queue.reference.entries as Array<Record<string, unknown>>).filter((e) =>
      names.test(String(e.name)),
    );
    expect(upstream).toHaveLength(16);
    const pick = (e: Record<string, unknown>) => [
      e.method,
      e.route,
      e.args,
      [...(e.query as string[])].sort(),
      e.scopes,
      e.stability,
      e.input,
      e.output,
    ];
    for (const e of upstream) {
      const mine = ours.get(e.name);
      expect(mine, String(e.name)).toBeDefined();
      expect(pick(mine!), String(e.name)).toEqual(pick(e));
    }
  });
});
