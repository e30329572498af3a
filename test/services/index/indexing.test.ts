import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveredMessage } from '../../../src/platform/events/index.ts';
import { INDEX_QUEUE_NAME } from '../../../src/services/index/index.ts';
import { rejection } from '../../helpers/clients.ts';
import { newTaskId, queueClient } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import {
  createAndClaim,
  foundAt,
  freshNamespace,
  fromNow,
  indexClient,
  indexClientFromReference,
  settleEvents,
} from './helpers.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
});
afterAll(async () => ty?.stop());

const DAY = 86400e3;
const COMPLETED = 'exchange/taskcluster-queue/v1/task-completed';

/** Runs a task with these fields to completion (or `report` it another way). */
async function runTask(
  over: Record<string, unknown>,
  report: (queue: ReturnType<typeof queueClient>, taskId: string) => Promise<unknown> = (q, id) =>
    q.reportCompleted(id, 0),
): Promise<string> {
  const { taskId, credentials } = await createAndClaim(ty, over);
  await report(queueClient(ty, credentials), taskId);
  return taskId;
}

describe('indexing tasks from their routes', () => {
  it('indexes a completed task at each of its index. routes, with rank, data and expires from extra.index', async () => {
    const ns = freshNamespace();
    const expires = fromNow(ty, 10 * DAY);
    const taskId = await runTask({
      routes: [`index.${ns}.my.ns`, `index.${ns}.other`, 'not-an-index.route'],
      extra: { index: { rank: 1, data: { hello: 'world' }, expires } },
    });
    await ty.taskyard.relay.drainOnce();
    const index = indexClient(ty);
    await expect.poll(() => foundAt(ty, `${ns}.my.ns`), { timeout: 5000 }).toBe(taskId);
    expect(await index.findTask(`${ns}.my.ns`)).toEqual({
      namespace: `${ns}.my.ns`,
      taskId,
      rank: 1,
      data: { hello: 'world' },
      expires,
    });
    expect((await index.findTask(`${ns}.other`)).taskId).toBe(taskId);
    const { namespaces } = await index.listNamespaces(ns);
    expect(namespaces.map((n: { name: string }) => n.name)).toEqual(['my']);
    // The namespace lasts at least as long as the entry, to the next midnight.
    expect(new Date(namespaces[0].expires).getTime()).toBeGreaterThanOrEqual(new Date(expires).getTime());
  });

  it("defaults to rank 0, no data and the task's expiry, and skips invalid index paths", async () => {
    const ns = freshNamespace();
    const taskExpires = fromNow(ty, 30 * DAY);
    const taskId = await runTask({
      routes: [`index.${ns}.plain`, `index.${ns}.slash/things-are-ignored`, `index.${ns}..empty`, 'index'],
      expires: taskExpires,
    });
    await settleEvents(ty);
    expect(await indexClient(ty).findTask(`${ns}.plain`)).toMatchObject({
      taskId,
      rank: 0,
      data: {},
      expires: taskExpires,
    });
    expect((await indexClient(ty).listTasks(ns)).tasks).toHaveLength(1);
  });

  it('does not replace an entry of higher rank, and does replace one of equal rank', async () => {
    const ns = freshNamespace();
    const path = `${ns}.ranked`;
    const first = await runTask({ routes: [`index.${path}`], extra: { index: { rank: 10 } } });
    await settleEvents(ty);
    expect(await foundAt(ty, path)).toBe(first);
    await runTask({ routes: [`index.${path}`], extra: { index: { rank: 9 } } });
    await settleEvents(ty);
    expect(await foundAt(ty, path)).toBe(first);
    const equal = await runTask({ routes: [`index.${path}`], extra: { index: { rank: 10 } } });
    await settleEvents(ty);
    expect(await foundAt(ty, path)).toBe(equal);
  });

  it('does not index a task whose extra.index is unusable', async () => {
    const ns = freshNamespace();
    for (const index of [{ rank: 'high' }, { data: 'text' }, { expires: 'someday' }]) {
      await runTask({ routes: [`index.${ns}.bad`], extra: { index } });
    }
    await settleEvents(ty);
    expect(await foundAt(ty, `${ns}.bad`)).toBe(404);
  });

  it('does not index failed or exception tasks unless they opt in', async () => {
    const ns = freshNamespace();
    await runTask({ routes: [`index.${ns}.failed`] }, (q, id) => q.reportFailed(id, 0));
    await runTask({ routes: [`index.${ns}.exception`] }, (q, id) =>
      q.reportException(id, 0, { reason: 'malformed-payload' }),
    );
    await settleEvents(ty);
    expect(await foundAt(ty, `${ns}.failed`)).toBe(404);
    expect(await foundAt(ty, `${ns}.exception`)).toBe(404);
  });
});

describe('opting in to indexing failed tasks', () => {
  it('indexes a failed or exception task with extra.index.indexFailed, but not a run that is retried', async () => {
    const ns = freshNamespace();
    const extra = { index: { rank: 5, indexFailed: true } };
    const failed = await runTask({ routes: [`index.${ns}.failed`], extra }, (q, id) => q.reportFailed(id, 0));
    const broken = await runTask({ routes: [`index.${ns}.exception`], extra }, (q, id) =>
      q.reportException(id, 0, { reason: 'malformed-payload' }),
    );
    const retried = await runTask({ routes: [`index.${ns}.retried`], extra }, (q, id) =>
      q.reportException(id, 0, { reason: 'worker-shutdown' }),
    );
    await settleEvents(ty);
    expect(await foundAt(ty, `${ns}.failed`)).toBe(failed);
    expect(await foundAt(ty, `${ns}.exception`)).toBe(broken);
    expect(await foundAt(ty, `${ns}.retried`)).toBe(404);
    expect((await queueClient(ty).status(retried)).status.state).toBe('pending');
    const index = await indexClientFromReference(ty);
    expect((await index.listTaskHistory(`${ns}.failed`)).history).toMatchObject([
      { taskId: failed, runId: 0, state: 'failed', rank: 5, indexed: true, source: 'event' },
    ]);
  });

  it('lets a completed task of the same rank replace a failed one, as any later task', async () => {
    const ns = freshNamespace();
    const path = `${ns}.latest`;
    const extra = { index: { rank: 1, indexFailed: true } };
    const failed = await runTask({ routes: [`index.${path}`], extra }, (q, id) => q.reportFailed(id, 0));
    await settleEvents(ty);
    expect(await foundAt(ty, path)).toBe(failed);
    const completed = await runTask({ routes: [`index.${path}`], extra });
    await settleEvents(ty);
    expect(await foundAt(ty, path)).toBe(completed);
  });
});

describe('delivery', () => {
  it('changes nothing when the same event is delivered again', async () => {
    const ns = freshNamespace();
    const path = `${ns}.twice`;
    // Keep a copy of the event as the bus delivers it.
    const seen: DeliveredMessage[] = [];
    const spy = await ty.bus.consume({
      queueName: `test/index-spy/${ns}`,
      bindings: [{ exchange: COMPLETED, pattern: `route.index.${ns}.#` }],
      handler: async (msg) => {
        seen.push(msg);
      },
    });
    const taskId = await runTask({
      routes: [`index.${path}`],
      extra: { index: { rank: 3, data: { v: 1 } } },
    });
    await settleEvents(ty);
    await spy.close();
    expect(seen).toHaveLength(1);
    expect(await foundAt(ty, path)).toBe(taskId);

    // Another task takes the path with the same rank; the old event, delivered again, must not take it back.
    const index = indexClient(ty);
    const other = newTaskId();
    await index.insertTask(path, { taskId: other, rank: 3, data: { v: 2 }, expires: fromNow(ty, DAY) });
    const event = seen[0];
    const again = {
      exchange: event.exchange,
      routingKey: event.routingKey,
      cc: event.routes.map((r) => `route.${r}`),
      payload: event.payload,
    };
    await ty.bus.publish([again, again]);
    await settleEvents(ty);
    expect(await index.findTask(path)).toMatchObject({ taskId: other, data: { v: 2 } });
    const history = (await (await indexClientFromReference(ty)).listTaskHistory(path)).history;
    expect(history.map((h: { taskId: string; source: string }) => [h.taskId, h.source])).toEqual([
      [other, 'insertTask'],
      [taskId, 'event'],
    ]);
  });

  it('gets an event again when handling it failed, and indexes the task then', async () => {
    const ns = freshNamespace();
    const path = `${ns}.retried`;
    const db = ty.testDb.db;
    await db.query('alter table index_tasks rename to index_tasks_away');
    let taskId: string;
    try {
      taskId = await runTask({ routes: [`index.${path}`] });
      await ty.taskyard.relay.waitIdle();
      // Handling fails (no table) and the bus offers the event again later.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await db.query('alter table index_tasks_away rename to index_tasks');
    }
    await expect.poll(() => foundAt(ty, path), { timeout: 10_000 }).toBe(taskId);
  });

  it(`consumes from the durable queue ${INDEX_QUEUE_NAME}`, async () => {
    // A second consumer of the same queue in this process is refused: the index holds it.
    const err = await ty.bus
      .consume({ queueName: INDEX_QUEUE_NAME, bindings: [], handler: async () => {} })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.message).toMatch(/already has a consumer/);
  });
});

describe('the history of an index path', () => {
  it('keeps the last 20 attempts, newest first, with their task, state, rank and whether they were indexed', async () => {
    const index = indexClient(ty);
    const path = `${freshNamespace()}.history`;
    const completed = await runTask({ routes: [`index.${path}`], extra: { index: { rank: 100 } } });
    await settleEvents(ty);
    const ids: string[] = [];
    for (let i = 0; i < 22; i++) {
      const taskId = newTaskId();
      ids.push(taskId);
      await index.insertTask(path, {
        taskId,
        rank: i === 21 ? 1000 : i,
        data: {},
        expires: fromNow(ty, DAY),
      });
    }
    const client = await indexClientFromReference(ty);
    const { namespace, history } = await client.listTaskHistory(path);
    expect(namespace).toBe(path);
    expect(history).toHaveLength(20);
    expect(history[0]).toMatchObject({ taskId: ids[21], rank: 1000, indexed: true, source: 'insertTask' });
    expect(history[0].state).toBeUndefined();
    expect(history[1]).toMatchObject({ taskId: ids[20], rank: 20, indexed: false });
    expect(history.map((h: { taskId: string }) => h.taskId)).not.toContain(completed);
    expect(new Date(history[0].time).getTime()).toBeGreaterThanOrEqual(new Date(history[1].time).getTime());
  });

  it('answers an empty history for a path never indexed, and 400 for a bad path', async () => {
    const client = await indexClientFromReference(ty);
    expect((await client.listTaskHistory(`${freshNamespace()}.none`)).history).toEqual([]);
    expect((await rejection(client.listTaskHistory('a..b'))).statusCode).toBe(400);
  });

  it('records the state and time of a task indexed from its completion', async () => {
    const path = `${freshNamespace()}.done`;
    const taskId = await runTask({ routes: [`index.${path}`] });
    await settleEvents(ty);
    const { status } = await queueClient(ty).status(taskId);
    const { history } = await (await indexClientFromReference(ty)).listTaskHistory(path);
    expect(history).toEqual([
      {
        taskId,
        runId: 0,
        state: 'completed',
        rank: 0,
        indexed: true,
        source: 'event',
        time: status.runs[0].resolved,
      },
    ]);
  });
});
