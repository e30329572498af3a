import { loadConfig } from '../platform/config.ts';
import { Database, migrate } from '../platform/db/index.ts';
import { UserError } from './fail.ts';

export async function migrateCommand(opts: { databaseUrl?: string }): Promise<void> {
  const config = loadConfig(process.env, { databaseUrl: opts.databaseUrl });
  if (!config.databaseUrl) throw new UserError('no database: pass --database-url or set DATABASE_URL');
  const database = new Database({ url: config.databaseUrl, max: 2 });
  try {
    const { applied, version } = await migrate(database);
    console.log(
      applied.length
        ? `applied ${applied.length} migration(s): ${applied.join(', ')}; the database is at version ${version}`
        : `nothing to do; the database is at version ${version}`,
    );
  } finally {
    await database.close();
  }
}
