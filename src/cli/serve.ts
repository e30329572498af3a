import { loadConfig } from '../platform/config.ts';
import { Database, migrationStatus } from '../platform/db/index.ts';
import { AmqpBus, type EventBus, InProcessBus } from '../platform/events/index.ts';
import { createLogger } from '../platform/log.ts';
import { createTaskyard, SERVICE_NAMES, type ServiceName } from '../server.ts';
import { UserError } from './fail.ts';
import { runUntilSignal } from './run-until-signal.ts';

export function parseServices(list: string): ServiceName[] {
  if (list === 'all') return [...SERVICE_NAMES];
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(SERVICE_NAMES as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) {
    throw new UserError(
      `unknown service(s) "${unknown.join(',') || list}"; known: ${SERVICE_NAMES.join(', ')} (or "all")`,
    );
  }
  return names as ServiceName[];
}

export async function serveCommand(opts: {
  services: string;
  databaseUrl?: string;
  amqpUrl?: string;
  port?: number;
}): Promise<void> {
  const services = parseServices(opts.services);
  const config = loadConfig(process.env, {
    databaseUrl: opts.databaseUrl,
    amqpUrl: opts.amqpUrl,
    port: opts.port,
  });
  if (config.host === '127.0.0.1' && !process.env.TASKYARD_HOST) config.host = '0.0.0.0';
  if (!config.databaseUrl) throw new UserError('no database: pass --database-url or set DATABASE_URL');
  const logger = createLogger(config.logLevel, { proc: 'serve' });
  const database = new Database({ url: config.databaseUrl, max: config.databasePoolSize, logger });
  const status = await migrationStatus(database);
  if (status.pending.length || status.modified.length) {
    await database.close();
    throw new UserError(
      status.modified.length
        ? `applied migrations were changed since they ran (${status.modified.join(', ')}); restore them`
        : `the database is at version ${status.current} but this Taskyard needs ${status.latest}: run \`taskyard migrate\` first`,
    );
  }
  let bus: EventBus;
  if (config.amqpUrl) {
    bus = await AmqpBus.connect(config.amqpUrl, { logger });
  } else {
    logger.warn('no AMQP_URL: events go to an in-process bus and are not seen outside this process');
    bus = new InProcessBus({ logger });
  }
  const taskyard = await createTaskyard({ config, services, database, bus, logger });
  const rootUrl = await taskyard.listen();
  console.log(`Taskyard is up at ${rootUrl} (services: ${services.join(', ')})`);
  runUntilSignal(
    async () => {
      await taskyard.stop();
      await bus.close();
      await database.close();
    },
    (line) => logger.info(line),
  );
}
