import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireQueueData } from '../../../src/services/queue/expiry.ts';
import { createQueueService } from '../../../src/services/queue/index.ts';
import { authClient, makeClient, rejection } from '../../helpers/clients.ts';
import { newTaskId, queueClient, queueClientFromReference, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

let ty: TestTaskyard;
let other: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
  // A second process on the same database, as `serve` behind a load balancer.
  other = await startTestTaskyard({
    database: ty.testDb,
    config: { accessTokenKey: ty.config.accessTokenKey, staticClients: ty.config.staticClients },
  });
  await authClient(ty, ty.root).createRole('anonymous', {
    description: 'public artifacts',
    scopes: ['queue:get-artifact:public/*'],
  });
});
afterAll(async () => {
  await other?.stop();
  await ty?.stop();
});

const newQueue = () => `test-prov/w${Math.random().toString(36).slice(2, 10)}`;

interface Claimed {
  taskId: string;
  runId: number;
  /** A queue client with the run's temporary credentials (from claimWork). */
  worker: Untyped;
  url: string;
}

/** A task claimed through claimWork: its run 0 is running. */
async function claimedTask(t: TestTaskyard = ty): Promise<Claimed> {
  const tq = newQueue();
  const taskId = newTaskId();
  await queueClient(t).createTask(taskId, taskDef(t, { taskQueueId: tq }));
  const { tasks } = await queueClient(t).claimWork(tq, { workerGroup: 'wg', workerId: 'wi', tasks: 1 });
  expect(tasks).toHaveLength(1);
  const worker = await queueClientFromReference(t, tasks[0].credentials);
  return { taskId, runId: 0, worker, url: liveLogUrl(t, taskId, 0) };
}

const liveLogUrl = (t: TestTaskyard, taskId: string, runId: number) =>
  `${t.rootUrl}/api/queue/v1/task/${taskId}/runs/${runId}/live-log`;

/** Reads a streaming response as it arrives. */
function reader(res: Response) {
  const chunks: Buffer[] = [];
  let ended = false;
  const done = (async () => {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
      chunks.push(Buffer.from(chunk));
    ended = true;
  })();
  return {
    bytes: () => Buffer.concat(chunks),
    text: () => Buffer.concat(chunks).toString('utf8'),
    ended: () => ended,
    done,
  };
}

async function getText(url: string): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

describe('appendLiveLog', () => {
  it('appends chunks at the log length and answers the new length', async () => {
    const { taskId, worker, url } = await claimedTask();
    expect(await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'hello ' })).toEqual({ length: 6 });
    expect(await worker.appendLiveLog(taskId, 0, { offset: 6, data: 'world\n' })).toEqual({ length: 12 });
    const got = await getText(`${url}?follow=false`);
    expect(got).toMatchObject({ status: 200, text: 'hello world\n', type: 'text/plain; charset=utf-8' });
  });

  it('accepts a retried chunk idempotently and appends only its new tail', async () => {
    const { taskId, worker, url } = await claimedTask();
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'abc' });
    expect(await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'abc' })).toEqual({ length: 3 });
    expect(await worker.appendLiveLog(taskId, 0, { offset: 1, data: 'bcdef' })).toEqual({ length: 6 });
    expect((await getText(`${url}?follow=false`)).text).toBe('abcdef');
  });

  it('refuses a gap or a differing overlap with 409 naming the current length, changing nothing', async () => {
    const { taskId, worker, url } = await claimedTask();
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'abc' });
    const gap = await rejection(worker.appendLiveLog(taskId, 0, { offset: 5, data: 'x' }));
    expect(gap.statusCode).toBe(409);
    expect(gap.message).toContain('3 bytes');
    const differs = await rejection(worker.appendLiveLog(taskId, 0, { offset: 2, data: 'Xyz' }));
    expect(differs.statusCode).toBe(409);
    expect(differs.message).toContain('3 bytes');
    expect((await getText(`${url}?follow=false`)).text).toBe('abc');
  });

  it('counts offsets in UTF-8 bytes, and a follower gets characters split across chunks intact', async () => {
    const { taskId, worker, url } = await claimedTask();
    const follower = reader(await fetch(url));
    const text = 'héllo → 世界 🎉\n';
    const bytes = Buffer.from(text, 'utf8');
    // The worker sends text, so a chunk boundary falls between characters; offsets still count bytes.
    expect(await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'héllo → ' })).toEqual({
      length: Buffer.byteLength('héllo → '),
    });
    await worker.appendLiveLog(taskId, 0, { offset: Buffer.byteLength('héllo → '), data: '世界 🎉\n' });
    await expect.poll(() => follower.bytes().length, { timeout: 10_000 }).toBe(bytes.length);
    expect(follower.text()).toBe(text);
    // Reading from an offset inside a multi-byte character gives the bytes from there.
    const res = await fetch(`${url}?follow=false&offset=2`);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes.subarray(2));
    await worker.reportCompleted(taskId, 0);
    await follower.done;
  });

  it('refuses more than 1 MiB in one request with 400', async () => {
    const { taskId, worker } = await claimedTask();
    const err = await rejection(worker.appendLiveLog(taskId, 0, { offset: 0, data: 'é'.repeat(600_000) }));
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('1048576');
    expect(await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'x'.repeat(1024 * 1024) })).toEqual({
      length: 1024 * 1024,
    });
  });

  it("refuses to grow a run's log past the configured cap with 413", async () => {
    // A queue whose live logs hold at most 100 bytes, called directly (the cap is a service option).
    const small = createQueueService({
      database: ty.testDb.db,
      logger: pino({ enabled: false }),
      liveLogMaxBytes: 100,
      backgroundLoops: false,
    });
    const append = small.api.endpoints.find((e) => e.name === 'appendLiveLog')!;
    const call = (offset: number, data: string) =>
      append.handler({ params: { taskId, runId: '0' }, body: { offset, data } } as Untyped);
    const { taskId } = await claimedTask();
    expect(await call(0, 'x'.repeat(60))).toEqual({ length: 60 });
    const err = await call(60, 'y'.repeat(50)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'InputTooLarge' });
    expect((err as Error).message).toContain('100 bytes');
    // Exactly reaching the cap is fine.
    expect(await call(60, 'y'.repeat(40))).toEqual({ length: 100 });
  });

  it('answers 409 naming the state when the run is not running', async () => {
    const { taskId, worker } = await claimedTask();
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'done\n' });
    await worker.reportFailed(taskId, 0);
    const err = await rejection(worker.appendLiveLog(taskId, 0, { offset: 5, data: 'late' }));
    expect(err.statusCode).toBe(409);
    expect(err.message).toContain('failed');
    const pendingId = newTaskId();
    await queueClient(ty).createTask(pendingId, taskDef(ty, { taskQueueId: newQueue() }));
    const root = await queueClientFromReference(ty);
    const pending = await rejection(root.appendLiveLog(pendingId, 0, { offset: 0, data: 'x' }));
    expect(pending.statusCode).toBe(409);
    expect(pending.message).toContain('pending');
    expect((await rejection(root.appendLiveLog(pendingId, 3, { offset: 0, data: 'x' }))).statusCode).toBe(
      404,
    );
  });

  it('needs queue:create-artifact:<taskId>/<runId>', async () => {
    const { taskId } = await claimedTask();
    const creds = await makeClient(ty, `live-log/${taskId}`, [`queue:create-artifact:${taskId}/1`]);
    const client = await queueClientFromReference(ty, creds);
    const err = await rejection(client.appendLiveLog(taskId, 0, { offset: 0, data: 'x' }));
    expect(err.statusCode).toBe(403);
    expect(err.message).toContain(`queue:create-artifact:${taskId}/0`);
    const anonymous = await fetch(liveLogUrl(ty, taskId, 0), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ offset: 0, data: 'x' }),
    });
    expect(anonymous.status).toBe(403);
  });

  it('rejects bad bodies with 400', async () => {
    const { taskId, worker } = await claimedTask();
    expect((await rejection(worker.appendLiveLog(taskId, 0, { offset: -1, data: 'x' }))).statusCode).toBe(
      400,
    );
    expect((await rejection(worker.appendLiveLog(taskId, 0, { data: 'x' }))).statusCode).toBe(400);
    expect((await rejection(worker.appendLiveLog(taskId, 0, { offset: 0, data: 5 }))).statusCode).toBe(400);
  });
});

describe('getLiveLog', () => {
  it('streams chunks as they are appended and ends when the run is resolved', async () => {
    const { taskId, worker, url } = await claimedTask();
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const follower = reader(res);
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'line 1\n' });
    await expect.poll(() => follower.text(), { timeout: 10_000 }).toBe('line 1\n');
    await worker.appendLiveLog(taskId, 0, { offset: 7, data: 'line 2\n' });
    await expect.poll(() => follower.text(), { timeout: 10_000 }).toBe('line 1\nline 2\n');
    expect(follower.ended()).toBe(false);
    await worker.reportCompleted(taskId, 0);
    await follower.done;
    expect(follower.text()).toBe('line 1\nline 2\n');
  });

  it('waits for a pending run to start, and serves many followers of one log', async () => {
    const tq = newQueue();
    const taskId = newTaskId();
    await queueClient(ty).createTask(taskId, taskDef(ty, { taskQueueId: tq }));
    const url = liveLogUrl(ty, taskId, 0);
    const followers = await Promise.all([1, 2, 3].map(async () => reader(await fetch(url))));
    const { tasks } = await queueClient(ty).claimWork(tq, { workerGroup: 'wg', workerId: 'wi', tasks: 1 });
    const worker = await queueClientFromReference(ty, tasks[0].credentials);
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'started\n' });
    await worker.reportCompleted(taskId, 0);
    await Promise.all(followers.map((f) => f.done));
    for (const f of followers) expect(f.text()).toBe('started\n');
  });

  it('starts from offset, with and without follow', async () => {
    const { taskId, worker, url } = await claimedTask();
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: '0123456789' });
    expect((await getText(`${url}?follow=false&offset=4`)).text).toBe('456789');
    expect((await getText(`${url}?follow=false&offset=50`)).text).toBe('');
    const follower = reader(await fetch(`${url}?offset=8`));
    await expect.poll(() => follower.text(), { timeout: 10_000 }).toBe('89');
    await worker.appendLiveLog(taskId, 0, { offset: 10, data: 'ab' });
    await worker.reportCompleted(taskId, 0);
    await follower.done;
    expect(follower.text()).toBe('89ab');
  });

  it('answers the complete log after the run resolved, with or without follow', async () => {
    const { taskId, worker, url } = await claimedTask();
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'all of it\n' });
    await worker.reportCompleted(taskId, 0);
    expect((await getText(url)).text).toBe('all of it\n');
    expect((await getText(`${url}?follow=true`)).text).toBe('all of it\n');
    expect((await getText(`${url}?follow=false`)).text).toBe('all of it\n');
  });

  it('ends a follower when the run is resolved by cancelTask', async () => {
    const { taskId, worker, url } = await claimedTask();
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'x' });
    const follower = reader(await fetch(url));
    await expect.poll(() => follower.text(), { timeout: 10_000 }).toBe('x');
    await queueClient(ty).cancelTask(taskId);
    await follower.done;
    expect(follower.text()).toBe('x');
  });

  it('follows on one process what is appended through another', async () => {
    const { taskId, worker } = await claimedTask(ty);
    const follower = reader(await fetch(liveLogUrl(other, taskId, 0)));
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'from a\n' });
    await expect.poll(() => follower.text(), { timeout: 10_000 }).toBe('from a\n');
    await worker.reportCompleted(taskId, 0);
    await follower.done;
    expect(follower.text()).toBe('from a\n');
  });

  it('stops following when the client goes away', async () => {
    const { taskId, worker, url } = await claimedTask();
    const abort = new AbortController();
    const res = await fetch(url, { signal: abort.signal });
    const iterator = (res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'a' });
    expect(Buffer.from((await iterator.next()).value as Uint8Array).toString()).toBe('a');
    abort.abort();
    // The watch of this log is released once its only follower left.
    await expect.poll(() => ty.taskyard.queue!.liveLogs.watchedLogs, { timeout: 10_000 }).toBe(0);
    await worker.reportCompleted(taskId, 0);
  });

  it('needs queue:get-artifact:public/logs/live.log, which the anonymous role grants here', async () => {
    const { taskId, worker } = await claimedTask();
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'x' });
    const creds = await makeClient(ty, `reader/${taskId}`, []);
    // Without the anonymous role's grant, a client holding nothing is refused.
    await authClient(ty, ty.root).updateRole('anonymous', { description: 'none', scopes: [] });
    try {
      const client = await queueClientFromReference(ty, creds);
      const err = await rejection(client.getLiveLog(taskId, 0, { follow: false }));
      expect(err.statusCode).toBe(403);
      expect(err.message).toContain('queue:get-artifact:public/logs/live.log');
    } finally {
      await authClient(ty, ty.root).updateRole('anonymous', {
        description: 'public artifacts',
        scopes: ['queue:get-artifact:public/*'],
      });
    }
    await worker.reportCompleted(taskId, 0);
  });

  it('answers 404 for an unknown task or run, and 400 for a bad offset', async () => {
    const { taskId, worker, url } = await claimedTask();
    expect((await fetch(liveLogUrl(ty, newTaskId(), 0))).status).toBe(404);
    expect((await fetch(liveLogUrl(ty, taskId, 1))).status).toBe(404);
    const bad = await fetch(`${url}?offset=-3`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('InputValidationError');
    await worker.reportCompleted(taskId, 0);
  });

  it('is in the published reference', async () => {
    const ref = (await (await fetch(`${ty.rootUrl}/references/queue/v1/api.json`)).json()) as Untyped;
    const names = ref.entries.map((e: { name: string }) => e.name);
    expect(names).toContain('appendLiveLog');
    const get = ref.entries.find((e: { name: string }) => e.name === 'getLiveLog');
    expect(get).toMatchObject({
      method: 'get',
      route: '/task/<taskId>/runs/<runId>/live-log',
      scopes: 'queue:get-artifact:public/logs/live.log',
    });
  });
});

describe('expiry', () => {
  it('removes the log with the task', async () => {
    const { taskId, worker, url } = await claimedTask();
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'soon gone' });
    await worker.reportCompleted(taskId, 0);
    const expires = (await queueClient(ty).task(taskId)).expires;
    await expireQueueData(ty.testDb.db, new Date(new Date(expires).getTime() + 1000));
    const rows = await ty.testDb.db.query('select 1 from queue_live_log_chunks where task_id = $1', [taskId]);
    expect(rows.rowCount).toBe(0);
    expect((await fetch(url)).status).toBe(404);
  });
});
