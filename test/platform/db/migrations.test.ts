import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../../src/platform/db/database.ts';
import { migrate, migrationStatus, readMigrations } from '../../../src/platform/db/migrations.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';

let t: TestDatabase;
let dir: string;

beforeEach(async () => {
  t = await createTestDatabase({ migrated: false });
  dir = await mkdtemp(join(tmpdir(), 'taskyard-migrations-'));
});

afterEach(async () => {
  await t?.drop();
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, sql: string): Promise<void> {
  await writeFile(join(dir, name), sql);
}

async function appliedRows(db: Database): Promise<Array<{ version: number; name: string }>> {
  const res = await db.query<{ version: number; name: string }>(
    'SELECT version, name FROM taskyard_migrations ORDER BY version',
  );
  return res.rows;
}

describe('migrate', () => {
  it('applies pending migrations in order, once, and records each', async () => {
    await write('0001_first.sql', 'CREATE TABLE a (id int);');
    await write('0002_second.sql', 'CREATE TABLE b (id int); INSERT INTO a VALUES (1);');
    expect(await migrate(t.db, { dir })).toEqual({
      applied: ['0001_first.sql', '0002_second.sql'],
      version: 2,
    });
    expect(await migrate(t.db, { dir })).toEqual({ applied: [], version: 2 });
    expect(await appliedRows(t.db)).toEqual([
      { version: 1, name: '0001_first.sql' },
      { version: 2, name: '0002_second.sql' },
    ]);
    const rows = await t.db.query('SELECT id FROM a');
    expect(rows.rowCount).toBe(1);
  });

  it('applies each migration exactly once when two pools migrate concurrently', async () => {
    // Not idempotent, and slow enough that both migrators overlap.
    await write('0001_slow.sql', 'SELECT pg_sleep(0.3); CREATE TABLE once (id int);');
    await write('0002_more.sql', 'CREATE TABLE twice_would_fail (id int);');
    const other = new Database({ url: t.url, max: 2 });
    try {
      const results = await Promise.all([migrate(t.db, { dir }), migrate(other, { dir })]);
      const applied = results.flatMap((r) => r.applied).sort();
      expect(applied).toEqual(['0001_slow.sql', '0002_more.sql']);
      expect(results.map((r) => r.version)).toEqual([2, 2]);
      expect(await appliedRows(t.db)).toHaveLength(2);
    } finally {
      await other.close();
    }
  });

  it('refuses to run when an applied migration file was changed, naming the file', async () => {
    await write('0001_first.sql', 'CREATE TABLE a (id int);');
    await migrate(t.db, { dir });
    await write('0001_first.sql', 'CREATE TABLE a (id bigint);');
    await write('0002_next.sql', 'CREATE TABLE b (id int);');
    await expect(migrate(t.db, { dir })).rejects.toThrow(/0001_first\.sql was changed after it was applied/);
    const status = await migrationStatus(t.db, { dir });
    expect(status.modified).toEqual(['0001_first.sql']);
    // Nothing after the changed file was applied either.
    expect(await appliedRows(t.db)).toHaveLength(1);
  });

  it('names the failing file and line, and keeps the migrations before it', async () => {
    await write('0001_ok.sql', 'CREATE TABLE ok (id int);');
    await write('0002_broken.sql', 'CREATE TABLE half (id int);\nCREATE TABLE oops (id int,);\n');
    const err = await migrate(t.db, { dir }).then(
      () => new Error('migrate succeeded'),
      (e: unknown) => e as Error,
    );
    expect(err.message).toMatch(/migration 0002_broken\.sql failed at line 2: syntax error/);
    expect(await appliedRows(t.db)).toEqual([{ version: 1, name: '0001_ok.sql' }]);
    // The failed file ran in its own transaction, so its first statement is gone too.
    const half = await t.db.query(`SELECT to_regclass('half') AS t`);
    expect(half.rows[0].t).toBeNull();
  });

  it('refuses a new migration numbered below one already applied', async () => {
    await write('0001_a.sql', 'SELECT 1;');
    await write('0003_c.sql', 'SELECT 1;');
    await migrate(t.db, { dir });
    await write('0002_b.sql', 'SELECT 1;');
    await expect(migrate(t.db, { dir })).rejects.toThrow(
      /0002_b\.sql is pending but version 3 is already applied/,
    );
  });

  it('rejects files that do not follow NNNN_name.sql', async () => {
    await write('1_bad.sql', 'SELECT 1;');
    await expect(readMigrations(dir)).rejects.toThrow(/1_bad\.sql .* does not match/);
  });

  it("creates the event outbox from the repository's migrations", async () => {
    const result = await migrate(t.db);
    expect(result.applied[0]).toBe('0001_events_outbox.sql');
    const cols = await t.db.query<{ column_name: string; data_type: string; is_nullable: string }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
       WHERE table_name = 'event_outbox' ORDER BY ordinal_position`,
    );
    expect(cols.rows).toEqual([
      { column_name: 'id', data_type: 'bigint', is_nullable: 'NO' },
      { column_name: 'exchange', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'routing_key', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'cc', data_type: 'ARRAY', is_nullable: 'NO' },
      { column_name: 'payload', data_type: 'json', is_nullable: 'NO' },
      { column_name: 'created', data_type: 'timestamp with time zone', is_nullable: 'NO' },
    ]);
  });
});

describe('migrationStatus', () => {
  it('reports current, latest and pending versions', async () => {
    await write('0001_a.sql', 'SELECT 1;');
    expect(await migrationStatus(t.db, { dir })).toEqual({
      current: 0,
      latest: 1,
      pending: ['0001_a.sql'],
      modified: [],
    });
    await migrate(t.db, { dir });
    await write('0002_b.sql', 'SELECT 1;');
    expect(await migrationStatus(t.db, { dir })).toEqual({
      current: 1,
      latest: 2,
      pending: ['0002_b.sql'],
      modified: [],
    });
  });
});
