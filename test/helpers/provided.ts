/** Values the global setup hands to test files through vitest's provide/inject. */
declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test PostgreSQL server (its `postgres` database). */
    taskyardAdminDatabaseUrl: string;
    /** Database migrated to the latest migration, cloned by `createTestDatabase`. */
    taskyardTemplateDatabase: string;
  }
}

export {};
