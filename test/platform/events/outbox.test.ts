import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueEvent, routesToCC } from '../../../src/platform/events/outbox.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { type TaskMessage, taskDefined, testService } from '../../helpers/events.ts';

let t: TestDatabase;
const svc = testService('outbox');

beforeAll(async () => {
  t = await createTestDatabase();
});

afterAll(async () => {
  await t?.drop();
});

async function outboxRows() {
  const res = await t.db.query<{ exchange: string; routing_key: string; cc: string[]; payload: unknown }>(
    'SELECT exchange, routing_key, cc, payload FROM event_outbox ORDER BY id',
  );
  return res.rows;
}

describe('enqueueEvent', () => {
  it('stores the full exchange name, routing key, CC keys and payload in the caller transaction', async () => {
    await t.db.query('DELETE FROM event_outbox');
    const payload: TaskMessage = { taskId: 'abc', seq: 1 };
    await t.db.transaction(async (tx) => {
      await enqueueEvent(
        tx,
        svc,
        taskDefined,
        payload,
        { taskId: 'abc', schedulerId: 's' },
        routesToCC(['a.b']),
      );
    });
    expect(await outboxRows()).toEqual([
      {
        exchange: 'exchange/taskyard-test-outbox/v1/task-defined',
        routing_key: 'primary.abc._.s._',
        cc: ['route.a.b'],
        payload,
      },
    ]);
  });

  it('leaves no row when the transaction rolls back', async () => {
    await t.db.query('DELETE FROM event_outbox');
    await t.db
      .transaction(async (tx) => {
        await enqueueEvent(tx, svc, taskDefined, { taskId: 'x', seq: 1 }, { taskId: 'x', schedulerId: 's' });
        throw new Error('abort');
      })
      .catch(() => undefined);
    expect(await outboxRows()).toEqual([]);
  });

  it('wakes listeners on commit only', async () => {
    const got: string[] = [];
    const stop = await t.db.listen('taskyard_outbox', (p) => got.push(p));
    await t.db
      .transaction(async (tx) => {
        await enqueueEvent(tx, svc, taskDefined, { taskId: 'x', seq: 1 }, { taskId: 'x', schedulerId: 's' });
        throw new Error('abort');
      })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([]);
    await t.db.transaction(async (tx) => {
      await enqueueEvent(tx, svc, taskDefined, { taskId: 'x', seq: 1 }, { taskId: 'x', schedulerId: 's' });
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual(['']);
    await stop();
  });

  it('rejects an invalid payload, naming the exchange and the failing path', async () => {
    const bad = { taskId: 'abc', seq: 'one' } as unknown as TaskMessage;
    await expect(
      enqueueEvent(t.db, svc, taskDefined, bad, { taskId: 'abc', schedulerId: 's' }),
    ).rejects.toThrow(
      'invalid message for exchange/taskyard-test-outbox/v1/task-defined: /seq: Expected integer',
    );
  });

  it('rejects CC keys that could collide with primary routing keys', async () => {
    await expect(
      enqueueEvent(t.db, svc, taskDefined, { taskId: 'a', seq: 1 }, { taskId: 'a', schedulerId: 's' }, [
        'primary.x',
      ]),
    ).rejects.toThrow(/must start with 'route.'/);
  });
});
