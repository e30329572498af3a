import { Command, InvalidArgumentError } from 'commander';
import { ConfigError } from '../platform/config.ts';
import { version } from '../platform/version.ts';
import { registerApiCommand } from './client/api-command.ts';
import { registerGroupCommands } from './client/group-commands.ts';
import { registerTaskCommands } from './client/task-commands.ts';
import { migrateCommand } from './migrate.ts';
import { serveCommand } from './serve.ts';
import { upCommand } from './up.ts';
import { parseWorkers, registerWorkerCommand } from './worker.ts';

export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535)
    throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return n;
}

/** A slugid (task and group ids) that starts with '-' looks like an option to any command line. */
const DASH_SLUG_OPTION = /unknown option '-[A-Za-z0-9_-]{21}'/;

/** Commander's error, with a hint when the "unknown option" is an id that starts with '-'. */
function withDashIdHint(message: string): string {
  if (!DASH_SLUG_OPTION.test(message)) return message;
  return `${message.trimEnd()}\n(an id that starts with '-' goes after \`--\`: taskyard task status -- <taskId>)\n`;
}

const program = new Command('taskyard')
  .description('Taskyard: a task execution platform that speaks Taskcluster v1')
  .version(version().version)
  // Set before the subcommands: they inherit it.
  .configureOutput({ outputError: (message, write) => write(withDashIdHint(message)) });

program
  .command('up')
  .description('run every service, with an embedded PostgreSQL, in this one process')
  .option('-p, --port <port>', 'port to listen on', parsePort, 8080)
  .option('-d, --data-dir <dir>', 'where all state lives', './.taskyard')
  .option(
    '--workers <n>',
    'tasks the local worker pool runs at once (0: no pool; default: CPUs)',
    parseWorkers,
  )
  .action(upCommand);

program
  .command('serve')
  .description('run services against an external PostgreSQL (and RabbitMQ): the at-scale mode')
  .option('-s, --services <list>', 'comma-separated services, or "all"', 'all')
  .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL)')
  .option('--amqp-url <url>', 'RabbitMQ URL (default: $AMQP_URL)')
  .option('-p, --port <port>', 'port to listen on (default: $TASKYARD_PORT or 8080)', parsePort)
  .action(serveCommand);

program
  .command('migrate')
  .description('apply pending database migrations')
  .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL)')
  .action(migrateCommand);

registerWorkerCommand(program);

registerTaskCommands(program);
registerGroupCommands(program);
registerApiCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const expected = err instanceof ConfigError || (err as { userFacing?: boolean })?.userFacing;
  console.error(`taskyard: ${(err as Error)?.message ?? String(err)}`);
  if (!expected && process.env.TASKYARD_DEBUG) console.error(err);
  process.exit(1);
});
