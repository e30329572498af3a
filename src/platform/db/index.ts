export {
  Database,
  type DatabaseOptions,
  type IsolationLevel,
  type NotifyOptions,
  notifyAfterCommit,
  PLAN_EACH_TIME,
  type Queryable,
  type TransactionOptions,
} from './database.ts';
export { type EmbeddedPostgres, type EmbeddedPostgresOptions, startEmbeddedPostgres } from './embedded.ts';
export { findPgError, isPgError, PgError, type PgErrorCode } from './errors.ts';
export type { ListenOptions } from './listener.ts';
export {
  MIGRATIONS_DIR,
  type MigrateOptions,
  type MigrationFile,
  type MigrationStatus,
  migrate,
  migrationStatus,
  readMigrations,
} from './migrations.ts';
