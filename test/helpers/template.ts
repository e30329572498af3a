import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { Database } from '../../src/platform/db/database.ts';
import { migrate, readMigrations } from '../../src/platform/db/migrations.ts';

const TEMPLATE_PREFIX = 'taskyard_tpl_';
export const TEST_DATABASE_PREFIX = 'taskyard_test_';
// Leftovers younger than this may belong to a concurrent run (another checkout, other migrations).
const STALE_AFTER_MS = 60 * 60 * 1000;
const TEMPLATE_LOCK_KEY = '7310582928745791858';
const READY_MARK = 'taskyard template ready';

/** URL of `database` on the same server as `adminUrl`. */
export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/**
 * Content hash of everything that shapes a migrated database: the files and
 * the migrator itself. A template is reused only if this matches.
 */
async function schemaHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await readMigrations()) {
    hash.update(`${file.name}\0${file.sha256}\0`);
  }
  hash.update(await readFile(new URL('../../src/platform/db/migrations.ts', import.meta.url)));
  return hash.digest('hex').slice(0, 12);
}

async function dropDatabase(client: pg.Client, name: string): Promise<void> {
  await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}

/** Drops templates of other migration sets and test databases left by crashed runs, once they are old. */
async function dropStale(client: pg.Client, keep: string): Promise<void> {
  const res = await client.query<{ datname: string; note: string | null }>(
    `SELECT datname, shobj_description(oid, 'pg_database') AS note FROM pg_database
     WHERE (starts_with(datname, $1) OR starts_with(datname, $2)) AND datname <> $3`,
    [TEMPLATE_PREFIX, TEST_DATABASE_PREFIX, keep],
  );
  for (const { datname, note } of res.rows) {
    const created = Date.parse(note?.split(' at ')[1] ?? '');
    if (Number.isNaN(created) || Date.now() - created > STALE_AFTER_MS) {
      await dropDatabase(client, datname);
    }
  }
}

/** Marks a database with its creation time so later runs can tell abandoned ones from busy ones. */
export async function stampDatabase(client: pg.Client, name: string, what: string): Promise<void> {
  const note = `${what} at ${new Date().toISOString()}`;
  await client.query(`COMMENT ON DATABASE ${pg.escapeIdentifier(name)} IS ${pg.escapeLiteral(note)}`);
}

/**
 * Returns the name of a database migrated to the latest migration, creating
 * it if needed. Serialized with an advisory lock so parallel runs against
 * one server do not build the same template twice.
 */
export async function prepareTemplate(adminUrl: string): Promise<string> {
  const name = `${TEMPLATE_PREFIX}${await schemaHash()}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [TEMPLATE_LOCK_KEY]);
    await dropStale(client, name);
    const existing = await client.query<{ note: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS note FROM pg_database WHERE datname = $1`,
      [name],
    );
    const ready = existing.rows[0]?.note?.startsWith(READY_MARK) ?? false;
    if (!ready) {
      // Half-built by a run that died mid-migration: start over.
      await dropDatabase(client, name);
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      const db = new Database({
        url: databaseUrl(adminUrl, name),
        max: 1,
        applicationName: 'taskyard-test-template',
      });
      try {
        await migrate(db);
      } finally {
        // No session may stay connected: CREATE DATABASE ... TEMPLATE refuses a source in use.
        await db.close();
      }
      await stampDatabase(client, name, READY_MARK);
    }
    return name;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [TEMPLATE_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}
