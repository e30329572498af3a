import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Database, Queryable } from './database.ts';
import { findPgError, isPgError, PgError } from './errors.ts';

/** The repository's migrations; tests pass their own directory. */
export const MIGRATIONS_DIR = new URL('../../../db/migrations/', import.meta.url);

// Arbitrary fixed key ("taskyard" in ASCII) so every migrator contends for the same advisory lock.
const MIGRATION_LOCK_KEY = '8386095523364975204';
const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export interface MigrationFile {
  version: number;
  /** File name, e.g. `0001_events_outbox.sql`. */
  name: string;
  sql: string;
  sha256: string;
}

export interface MigrateOptions {
  dir?: URL | string;
}

interface AppliedRow {
  version: number;
  name: string;
  sha256: string;
}

function dirPath(dir: URL | string | undefined): string {
  const d = dir ?? MIGRATIONS_DIR;
  return typeof d === 'string' ? d : fileURLToPath(d);
}

/** Reads and orders the migration files; rejects names that do not follow `NNNN_name.sql`. */
export async function readMigrations(dir?: URL | string): Promise<MigrationFile[]> {
  const path = dirPath(dir);
  const entries = (await readdir(path)).filter((f) => f.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  for (const name of entries) {
    const match = FILE_PATTERN.exec(name);
    if (!match) {
      throw new Error(`migration file ${name} in ${path} does not match NNNN_lower_snake_name.sql`);
    }
    const version = Number(match[1]);
    const previous = files.at(-1);
    if (previous?.version === version) {
      throw new Error(`migrations ${previous.name} and ${name} share version ${version}`);
    }
    if (version === 0) {
      throw new Error(`migration ${name}: versions start at 0001`);
    }
    const sql = await readFile(`${path}/${name}`, 'utf8');
    files.push({ version, name, sql, sha256: sha256(sql) });
  }
  return files;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

async function ensureMigrationsTable(conn: Queryable): Promise<void> {
  await conn.query(`
    CREATE TABLE IF NOT EXISTS taskyard_migrations (
      version int PRIMARY KEY,
      name text NOT NULL,
      sha256 text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
}

async function readApplied(conn: Queryable): Promise<AppliedRow[]> {
  try {
    const res = await conn.query<AppliedRow>(
      'SELECT version, name, sha256 FROM taskyard_migrations ORDER BY version',
    );
    return res.rows;
  } catch (err) {
    if (isPgError(err, PgError.UndefinedTable)) {
      return [];
    }
    throw err;
  }
}

/**
 * Applied migrations must match the files byte for byte: a database built
 * from a different history than the code believes in is a bug we must not
 * paper over, so we refuse to start instead.
 */
function checkHistory(files: MigrationFile[], applied: AppliedRow[]): void {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const latest = files.at(-1)?.version ?? 0;
  for (const row of applied) {
    const file = byVersion.get(row.version);
    if (!file) {
      // A newer database (applied by newer code during a rolling deploy) is fine; a hole in our history is not.
      if (row.version <= latest) {
        throw new Error(`migration ${row.name} (version ${row.version}) was applied but its file is missing`);
      }
      continue;
    }
    if (file.name !== row.name || file.sha256 !== row.sha256) {
      throw new Error(
        `migration ${file.name} was changed after it was applied as ${row.name} ` +
          `(recorded sha256 ${row.sha256}, file now ${file.sha256}); ` +
          'applied migrations are immutable, add a new migration instead',
      );
    }
  }
  const appliedVersions = new Set(applied.map((r) => r.version));
  const maxApplied = applied.at(-1)?.version ?? 0;
  for (const file of files) {
    if (!appliedVersions.has(file.version) && file.version < maxApplied) {
      throw new Error(
        `migration ${file.name} is pending but version ${maxApplied} is already applied; ` +
          'renumber it after the latest applied migration',
      );
    }
  }
}

function describeFailure(file: MigrationFile, err: unknown): Error {
  const pgErr = findPgError(err);
  let where = '';
  if (pgErr?.position) {
    const line = file.sql.slice(0, Number(pgErr.position)).split('\n').length;
    where = ` at line ${line}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`migration ${file.name} failed${where}: ${message}`, { cause: err });
}

/**
 * Applies pending migrations, each in its own transaction, under a session
 * advisory lock so concurrent migrators (several replicas starting at once)
 * serialize; the applied set is re-read after the lock is granted.
 */
export async function migrate(
  db: Database,
  opts: MigrateOptions = {},
): Promise<{ applied: string[]; version: number }> {
  const files = await readMigrations(opts.dir);
  return db.withConnection(async (conn) => {
    await conn.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    let result: { applied: string[]; version: number };
    try {
      result = await applyPending(conn, files);
    } catch (err) {
      // withConnection destroys the session on failure, which releases the lock even if this unlock fails.
      await conn.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      throw err;
    }
    await conn.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
    return result;
  });
}

async function applyPending(
  conn: Queryable,
  files: MigrationFile[],
): Promise<{ applied: string[]; version: number }> {
  await ensureMigrationsTable(conn);
  const applied = await readApplied(conn);
  checkHistory(files, applied);
  const done = new Set(applied.map((r) => r.version));
  const newlyApplied: string[] = [];
  for (const file of files) {
    if (done.has(file.version)) {
      continue;
    }
    await conn.query('BEGIN');
    try {
      // Simple-query protocol (no parameters) so a file may hold several statements.
      await conn.query(file.sql);
      await conn.query('INSERT INTO taskyard_migrations (version, name, sha256) VALUES ($1, $2, $3)', [
        file.version,
        file.name,
        file.sha256,
      ]);
      await conn.query('COMMIT');
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw describeFailure(file, err);
    }
    newlyApplied.push(file.name);
  }
  const version = Math.max(0, ...applied.map((r) => r.version), ...files.map((f) => f.version));
  return { applied: newlyApplied, version };
}

export interface MigrationStatus {
  /** Highest applied version, 0 on an empty database. */
  current: number;
  /** Highest version among the files. */
  latest: number;
  /** File names not yet applied. */
  pending: string[];
  /** Applied files whose content changed since; `migrate` refuses to run while this is non-empty. */
  modified: string[];
}

export async function migrationStatus(db: Database, opts: MigrateOptions = {}): Promise<MigrationStatus> {
  const files = await readMigrations(opts.dir);
  const applied = await readApplied(db);
  const byVersion = new Map(applied.map((r) => [r.version, r]));
  return {
    current: applied.at(-1)?.version ?? 0,
    latest: files.at(-1)?.version ?? 0,
    pending: files.filter((f) => !byVersion.has(f.version)).map((f) => f.name),
    modified: files
      .filter((f) => {
        const row = byVersion.get(f.version);
        return row !== undefined && (row.sha256 !== f.sha256 || row.name !== f.name);
      })
      .map((f) => f.name),
  };
}
