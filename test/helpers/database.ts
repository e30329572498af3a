import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { inject } from 'vitest';
import { Database } from '../../src/platform/db/database.ts';
import { isPgError, PgError } from '../../src/platform/db/errors.ts';
import './provided.ts';
import { databaseUrl, stampDatabase, TEST_DATABASE_PREFIX } from './template.ts';

export interface TestDatabase {
  name: string;
  url: string;
  db: Database;
  /** Closes `db` and drops the database, disconnecting any other session still on it. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** Clone the migrated template (default) or start from an empty database. */
  migrated?: boolean;
}

/**
 * A private database for one test file: a clone of the migrated template
 * (a file copy on the server, far faster than migrating each time).
 */
export async function createTestDatabase(opts: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = inject('taskyardAdminDatabaseUrl');
  const template = opts.migrated === false ? 'template0' : inject('taskyardTemplateDatabase');
  const name = `${TEST_DATABASE_PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(
          `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)} ENCODING 'UTF8'`,
        );
        break;
      } catch (err) {
        // The template is briefly "in use" while the session that migrated it is still exiting.
        if (!isPgError(err, PgError.ObjectInUse) || attempt >= 10) {
          throw err;
        }
        await sleep(200 * attempt);
      }
    }
    await stampDatabase(admin, name, 'taskyard test database');
  } finally {
    await admin.end();
  }
  const url = databaseUrl(adminUrl, name);
  const db = new Database({ url, max: 5, applicationName: 'taskyard-test' });
  return {
    name,
    url,
    db,
    drop: async () => {
      await db.close();
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
