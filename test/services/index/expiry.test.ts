import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexContext } from '../../../src/services/index/context.ts';
import { startExpiryLoop } from '../../../src/services/index/expiry.ts';
import { expireIndex, INDEX_QUEUE_NAME } from '../../../src/services/index/index.ts';
import { rejection } from '../../helpers/clients.ts';
import { newTaskId } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import { freshNamespace, fromNow, indexClient } from './helpers.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
});
afterAll(async () => ty?.stop());

const HOUR = 3600e3;
const DAY = 24 * HOUR;

/** The index's context with its clock at `time` (ms). */
const contextAt = (time: number): IndexContext => ({
  database: ty.testDb.db,
  logger: pino({ level: 'silent' }),
  config: ty.config,
  now: () => new Date(time),
});

async function rowsUnder(ns: string) {
  const db = ty.testDb.db;
  const count = async (sql: string) => Number((await db.query(sql, [`${ns}%`])).rows[0].n);
  return {
    tasks: await count('select count(*) as n from index_tasks where namespace like $1'),
    namespaces: await count(`select count(*) as n from index_namespaces
       where (case when parent = '' then name else parent || '.' || name end) like $1`),
    history: await count('select count(*) as n from index_history where path like $1'),
  };
}

describe('expiry', () => {
  it('deletes expired entries, namespaces and history, and keeps what has not expired', async () => {
    const index = indexClient(ty);
    const ns = freshNamespace();
    const shortLived = newTaskId();
    const longLived = newTaskId();
    // A minute after the next midnight (UTC): its namespaces expire at the midnight after.
    const shortExpiry = Math.floor(ty.clock.now.getTime() / DAY) * DAY + DAY + 60e3;
    const expires = new Date(shortExpiry).toJSON();
    await index.insertTask(`${ns}.a.short`, { taskId: shortLived, rank: 0, data: {}, expires });
    await index.insertTask(`${ns}.b.long`, {
      taskId: longLived,
      rank: 0,
      data: {},
      expires: fromNow(ty, 10 * DAY),
    });
    expect(await rowsUnder(ns)).toEqual({ tasks: 2, namespaces: 3, history: 2 });

    // Once past its expiry the entry is deleted; the namespace above it lasts to the next midnight.
    let counts = await expireIndex(contextAt(shortExpiry + HOUR));
    expect(counts.tasks).toBeGreaterThanOrEqual(1);
    expect(await rowsUnder(ns)).toEqual({ tasks: 1, namespaces: 3, history: 1 });

    // A day later the namespace has expired too; the other branch stays.
    counts = await expireIndex(contextAt(shortExpiry + DAY));
    expect(counts.namespaces).toBeGreaterThanOrEqual(1);
    expect(await rowsUnder(ns)).toEqual({ tasks: 1, namespaces: 2, history: 1 });
    expect((await index.listNamespaces(ns)).namespaces.map((n: { name: string }) => n.name)).toEqual(['b']);
    expect((await index.findTask(`${ns}.b.long`)).taskId).toBe(longLived);
    expect((await rejection(index.findTask(`${ns}.a.short`))).statusCode).toBe(404);

    // A second pass at the same time finds nothing more to delete.
    await expireIndex(contextAt(shortExpiry + DAY));
    expect(await rowsUnder(ns)).toEqual({ tasks: 1, namespaces: 2, history: 1 });
  });

  it('runs as a background loop that passes at once and stops cleanly', async () => {
    const index = indexClient(ty);
    const ns = freshNamespace();
    await index.insertTask(`${ns}.gone`, {
      taskId: newTaskId(),
      rank: 0,
      data: {},
      expires: fromNow(ty, HOUR),
    });
    const stop = startExpiryLoop(contextAt(ty.clock.now.getTime() + 2 * HOUR), 60_000);
    await expect.poll(async () => (await rowsUnder(ns)).tasks).toBe(0);
    await stop();
  });
});

describe('without background loops', () => {
  it('consumes no events (the durable queue is free for another process)', async () => {
    const other = await startTestTaskyard({ backgroundLoops: false });
    try {
      const consumer = await other.bus.consume({
        queueName: INDEX_QUEUE_NAME,
        bindings: [],
        handler: async () => {},
      });
      await consumer.close();
    } finally {
      await other.stop();
    }
  });
});
