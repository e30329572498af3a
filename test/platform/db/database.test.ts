import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Database } from '../../../src/platform/db/database.ts';
import { isPgError, PgError } from '../../../src/platform/db/errors.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
  await t.db.query('CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL DEFAULT 0)');
});

afterAll(async () => {
  await t?.drop();
});

async function count(): Promise<number> {
  const res = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM items');
  return res.rows[0].n;
}

describe('Database.transaction', () => {
  it('commits all writes together and returns the function result', async () => {
    const result = await t.db.transaction(async (tx) => {
      await tx.query('INSERT INTO items (id) VALUES ($1), ($2)', [1, 2]);
      return 'done';
    });
    expect(result).toBe('done');
    expect(await count()).toBe(2);
  });

  it('leaves nothing behind when the function throws', async () => {
    const before = await count();
    await expect(
      t.db.transaction(async (tx) => {
        await tx.query('INSERT INTO items (id) VALUES ($1)', [100]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await count()).toBe(before);
  });

  it('rolls back when a statement fails and surfaces the PostgreSQL error code', async () => {
    const before = await count();
    const err = await t.db
      .transaction(async (tx) => {
        await tx.query('INSERT INTO items (id) VALUES ($1)', [200]);
        await tx.query('INSERT INTO items (id) VALUES ($1)', [1]); // duplicate
      })
      .catch((e: unknown) => e);
    expect(isPgError(err, PgError.UniqueViolation)).toBe(true);
    expect(await count()).toBe(before);
  });

  it('retries after a serialization failure and commits once', async () => {
    let attempts = 0;
    await t.db.transaction(async (tx) => {
      attempts++;
      await tx.query('INSERT INTO items (id) VALUES ($1)', [300]);
      if (attempts === 1) {
        await tx.query(`DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$`);
      }
    });
    expect(attempts).toBe(2);
    const res = await t.db.query('SELECT id FROM items WHERE id = 300');
    expect(res.rowCount).toBe(1);
  });

  it('does not retry other errors', async () => {
    let attempts = 0;
    await expect(
      t.db.transaction(async (tx) => {
        attempts++;
        await tx.query(`DO $$ BEGIN RAISE EXCEPTION 'nope' USING ERRCODE = '23514'; END $$`);
      }),
    ).rejects.toThrow('nope');
    expect(attempts).toBe(1);
  });

  it('resolves a real deadlock by retrying the victim, so both updates land', async () => {
    await t.db.query('INSERT INTO items (id, v) VALUES (10, 0), (11, 0)');
    let firstLocks = 0;
    let release!: () => void;
    const bothLocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lockedOne = () => {
      firstLocks++;
      if (firstLocks === 2) {
        release();
      }
    };
    const run = (a: number, b: number) => {
      let attempt = 0;
      return t.db.transaction(async (tx) => {
        attempt++;
        await tx.query('UPDATE items SET v = v + 1 WHERE id = $1', [a]);
        if (attempt === 1) {
          lockedOne();
          await bothLocked;
        }
        await tx.query('UPDATE items SET v = v + 1 WHERE id = $1', [b]);
      });
    };
    await Promise.all([run(10, 11), run(11, 10)]);
    const res = await t.db.query<{ v: number }>('SELECT v FROM items WHERE id IN (10, 11) ORDER BY id');
    expect(res.rows.map((r) => r.v)).toEqual([2, 2]);
  });

  it('applies settings to its own transaction only, and refuses a setting that is not a plain name and value', async () => {
    const setting = async (q: Pick<Database, 'query'>) =>
      (
        await q.query<{ sort: string; bitmap: string }>(
          "SELECT current_setting('enable_sort') AS sort, current_setting('enable_bitmapscan') AS bitmap",
        )
      ).rows[0];
    const inside = await t.db.transaction((tx) => setting(tx), {
      settings: { enable_sort: 'off', enable_bitmapscan: 'off' },
    });
    expect(inside).toEqual({ sort: 'off', bitmap: 'off' });
    // Every pooled connection is back to the defaults afterwards.
    const after = await Promise.all(Array.from({ length: 5 }, () => t.db.transaction((tx) => setting(tx))));
    for (const s of after) expect(s).toEqual({ sort: 'on', bitmap: 'on' });
    const ran = vi.fn();
    await expect(
      t.db.transaction(ran, { settings: { 'enable_sort = on; DROP TABLE items; --': 'off' } }),
    ).rejects.toThrow(/invalid transaction setting/);
    await expect(
      t.db.transaction(ran, { settings: { enable_sort: "off'; DROP TABLE items; --" } }),
    ).rejects.toThrow(/invalid transaction setting/);
    expect(ran).not.toHaveBeenCalled();
    expect(await count()).toBeGreaterThan(0);
  });

  it('runs its connections without JIT compilation', async () => {
    const res = await t.db.query<{ jit: string }>("SELECT current_setting('jit') AS jit");
    expect(res.rows[0].jit).toBe('off');
  });
});

describe('Database.listen and notify', () => {
  it('delivers notification payloads to the listener', async () => {
    const got: string[] = [];
    const stop = await t.db.listen('test_chan', (p) => got.push(p));
    await t.db.notify('test_chan', 'hello');
    await vi.waitFor(() => expect(got).toEqual(['hello']));
    await stop();
  });

  it('delivers a notification sent in a transaction only if it commits', async () => {
    const got: string[] = [];
    const stop = await t.db.listen('tx_chan', (p) => got.push(p));
    await t.db
      .transaction(async (tx) => {
        await t.db.notify('tx_chan', 'rolled-back', tx);
        throw new Error('abort');
      })
      .catch(() => undefined);
    await t.db.transaction(async (tx) => {
      await t.db.notify('tx_chan', 'committed', tx);
    });
    await vi.waitFor(() => expect(got).toContain('committed'));
    expect(got).toEqual(['committed']);
    await stop();
  });

  it('notifyAfterCommit: after commit only, here at once and once, in another process through PostgreSQL', async () => {
    const other = new Database({ url: t.url, max: 2 });
    try {
      const here: string[] = [];
      const there: string[] = [];
      const stopHere = await t.db.listen('after_chan', (p) => here.push(p));
      const stopThere = await other.listen('after_chan', (p) => there.push(p));
      await t.db
        .transaction(async (tx) => {
          tx.notifyAfterCommit?.('after_chan', 'rolled-back');
          throw new Error('abort');
        })
        .catch(() => undefined);
      await t.db.transaction(async (tx) => {
        tx.notifyAfterCommit?.('after_chan', 'committed');
        // Not before the commit, even in this process.
        expect(here).toEqual([]);
      });
      expect(here).toEqual(['committed']);
      await vi.waitFor(() => expect(there).toEqual(['committed']));
      // Local-only notifications stay in this process.
      t.db.notifySoon('after_chan', 'local', { localOnly: true });
      t.db.notifySoon('after_chan', 'both');
      await vi.waitFor(() => expect(there).toEqual(['committed', 'both']));
      // The echo of this process's own notifications is not delivered a second time.
      await new Promise((r) => setTimeout(r, 200));
      expect(here).toEqual(['committed', 'local', 'both']);
      await stopHere();
      await stopThere();
    } finally {
      await other.close();
    }
  });

  it('keeps listening after its connection is killed, and says when it was lost and when it is back', async () => {
    const got: string[] = [];
    let reconnects = 0;
    const events: string[] = [];
    const stop = await t.db.listen('resilient_chan', (p) => got.push(p), {
      onLost: () => events.push('lost'),
      onReconnect: () => {
        reconnects++;
        events.push('back');
      },
    });
    const killed = await t.db.query(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
       WHERE datname = current_database() AND query = 'LISTEN "resilient_chan"'`,
    );
    expect(killed.rowCount).toBe(1);
    await vi.waitFor(() => expect(reconnects).toBe(1), { timeout: 10_000 });
    expect(events).toEqual(['lost', 'back']);
    await t.db.notify('resilient_chan', 'after');
    await vi.waitFor(() => expect(got).toEqual(['after']));
    await stop();
  });

  it('rejects at once when the server cannot be reached', async () => {
    const db = new Database({ url: 'postgres://postgres@127.0.0.1:1/none' });
    await expect(db.listen('x', () => undefined)).rejects.toThrow(/cannot LISTEN on channel x/);
    await db.close();
  });
});

describe('Database.withConnection', () => {
  it('runs on one session, so session state such as advisory locks holds across queries', async () => {
    const held = await t.db.withConnection(async (conn) => {
      await conn.query('SELECT pg_advisory_lock(42)');
      const mine = await conn.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`,
      );
      await conn.query('SELECT pg_advisory_unlock(42)');
      return mine.rows[0].n;
    });
    expect(held).toBe(1);
  });
});

describe('isPgError', () => {
  it('finds the SQLSTATE through errors that wrap a pg error as their cause', async () => {
    const pgErr = await t.db.query('SELECT * FROM no_such_table').catch((e: unknown) => e);
    const wrapped = new Error('loading widgets', { cause: pgErr });
    expect(isPgError(wrapped, PgError.UndefinedTable)).toBe(true);
    expect(isPgError(wrapped, PgError.UniqueViolation)).toBe(false);
    expect(isPgError(new Error('plain'))).toBe(false);
  });
});
