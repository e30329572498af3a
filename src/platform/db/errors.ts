import pg from 'pg';

/**
 * SQLSTATE codes we branch on. Named so call sites read as intent
 * (`isPgError(err, PgError.UniqueViolation)`) rather than magic strings.
 * See https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export const PgError = {
  StringDataRightTruncation: '22001',
  NumericValueOutOfRange: '22003',
  InvalidTextRepresentation: '22P02',
  NotNullViolation: '23502',
  ForeignKeyViolation: '23503',
  UniqueViolation: '23505',
  CheckViolation: '23514',
  ExclusionViolation: '23P01',
  InvalidCatalogName: '3D000',
  SerializationFailure: '40001',
  DeadlockDetected: '40P01',
  SyntaxError: '42601',
  UndefinedColumn: '42703',
  UndefinedTable: '42P01',
  UndefinedObject: '42704',
  DuplicateDatabase: '42P04',
  DuplicateTable: '42P07',
  DuplicateObject: '42710',
  ObjectInUse: '55006',
  LockNotAvailable: '55P03',
  QueryCanceled: '57014',
  AdminShutdown: '57P01',
  CannotConnectNow: '57P03',
  RaiseException: 'P0001',
} as const;

export type PgErrorCode = (typeof PgError)[keyof typeof PgError];

/**
 * Finds the PostgreSQL error in `err` or in its `cause` chain. We wrap pg
 * errors with context (`new Error(msg, { cause })`), so callers must not have
 * to know whether an error was wrapped before checking its SQLSTATE.
 */
export function findPgError(err: unknown): pg.DatabaseError | undefined {
  let current: unknown = err;
  // Bounded walk: a cyclic cause chain must not hang the caller.
  for (let depth = 0; depth < 10 && current instanceof Error; depth++) {
    if (current instanceof pg.DatabaseError) {
      return current;
    }
    current = current.cause;
  }
  return undefined;
}

/** True if `err` (or its cause chain) is a PostgreSQL error, optionally with the given SQLSTATE. */
export function isPgError(err: unknown, code?: PgErrorCode | string): boolean {
  const pgErr = findPgError(err);
  if (!pgErr) {
    return false;
  }
  return code === undefined || pgErr.code === code;
}
