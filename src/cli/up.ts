import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import slugid from 'slugid';
import taskcluster from 'taskcluster-client';
import { loadConfig } from '../platform/config.ts';
import { Database, migrate, startEmbeddedPostgres } from '../platform/db/index.ts';
import { InProcessBus } from '../platform/events/index.ts';
import { createLogger } from '../platform/log.ts';
import {
  createTaskyard,
  HOOKS_CLIENT_ID,
  HOOKS_CLIENT_SCOPES,
  QUEUE_CLIENT_ID,
  SERVICE_NAMES,
} from '../server.ts';
import { DataDir } from './data-dir.ts';
import { runUntilSignal } from './run-until-signal.ts';
import { LOCAL_WORKER_CLIENT_ID, LOCAL_WORKER_SCOPES, startLocalWorkerPool } from './worker.ts';

/** `taskyard up`: every service in one process, state in an embedded PostgreSQL under the data dir. */
export async function upCommand(opts: { port: number; dataDir: string; workers?: number }): Promise<void> {
  const dir = new DataDir(opts.dataDir);
  const unlock = dir.lock();
  const say = (line: string) => console.log(line);
  const cleanups: Array<() => Promise<void> | void> = [unlock];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };
  try {
    const root = dir.rootCredentials();
    const base = loadConfig(process.env, {
      port: opts.port,
      // Request lines are for operators of `serve`; on a laptop they drown the useful output.
      logLevel: process.env.LOG_LEVEL ? undefined : 'warn',
    });
    // Artifacts go to files under the data dir unless S3 is configured.
    const useS3 =
      base.blobStore === 's3' || (base.blobStore === undefined && !base.blobRoot && base.s3Bucket);
    const blobs = useS3
      ? {}
      : {
          blobStore: 'filesystem' as const,
          blobRoot: base.blobRoot ?? join(dir.path, 'artifacts'),
          blobSecret: base.blobSecret ?? dir.secret('blobSecret', () => randomBytes(32).toString('base64')),
        };
    const config = {
      ...base,
      ...blobs,
      accessTokenKey:
        base.accessTokenKey ?? dir.secret('accessTokenKey', () => randomBytes(32).toString('base64')),
      secretsKey: base.secretsKey ?? dir.secret('secretsKey', () => randomBytes(32).toString('base64')),
      staticClients: [
        {
          clientId: root.clientId,
          accessToken: root.accessToken,
          description: 'Root client of taskyard up',
          scopes: ['*'],
        },
        {
          clientId: QUEUE_CLIENT_ID,
          accessToken: dir.secret('queueAccessToken', () => slugid.v4() + slugid.v4()),
          description: 'The queue: issues the credentials of claimed tasks',
          scopes: ['*'],
        },
        {
          clientId: HOOKS_CLIENT_ID,
          accessToken: dir.secret('hooksAccessToken', () => slugid.v4() + slugid.v4()),
          description: 'The hooks service: creates the tasks of hooks, each limited to its hook role',
          scopes: HOOKS_CLIENT_SCOPES,
        },
        {
          clientId: LOCAL_WORKER_CLIENT_ID,
          accessToken: dir.secret('localWorkerAccessToken', () => slugid.v4() + slugid.v4()),
          description: 'The local worker pool of taskyard up (task queue local/default)',
          scopes: LOCAL_WORKER_SCOPES,
        },
        ...base.staticClients.filter(
          (c) =>
            c.clientId !== root.clientId &&
            c.clientId !== QUEUE_CLIENT_ID &&
            c.clientId !== HOOKS_CLIENT_ID &&
            c.clientId !== LOCAL_WORKER_CLIENT_ID,
        ),
      ],
    };
    const logger = createLogger(config.logLevel, { proc: 'up' });
    const pg = await startEmbeddedPostgres({
      dataDir: dir.postgresDir,
      log: (line) => logger.debug({ postgres: line }),
    });
    cleanups.push(() => pg.stop());
    const database = new Database({ url: pg.url, max: config.databasePoolSize, logger });
    cleanups.push(() => database.close());
    await migrate(database);
    const bus = new InProcessBus({ logger });
    cleanups.push(() => bus.close());
    const taskyard = await createTaskyard({ config, services: [...SERVICE_NAMES], database, bus, logger });
    cleanups.push(() => taskyard.stop());
    const rootUrl = await taskyard.listen();
    const file = dir.writeCredentials(rootUrl, root);
    await dir.once('anonymousRole', () => seedAnonymousRole(rootUrl, root));
    say(`Root credentials (clientId ${root.clientId}) are in ${file}`);
    const workers = opts.workers ?? cpus().length;
    if (workers > 0) {
      const pool = startLocalWorkerPool({
        rootUrl,
        dataDir: dir.path,
        capacity: workers,
        credentials: config.staticClients.find((c) => c.clientId === LOCAL_WORKER_CLIENT_ID)!,
        logger,
      });
      // The pool's claimWork long-polls the queue in this process: release it so stopping is quick.
      cleanups.push(() => Promise.all([pool.stop(), taskyard.queue?.releaseWaiters()]).then(() => {}));
      say(`Local worker pool: ${workers} at once from task queue local/default`);
    }
    say(`Taskyard is up at ${rootUrl}`);
    if (workers > 0) say('Try: npx taskyard task create examples/hello.yml --follow');
  } catch (err) {
    await cleanup();
    throw err;
  }
  runUntilSignal(cleanup, say);
}

/**
 * What requests without credentials may do on a fresh `up`: read public artifacts (the logs and
 * results that links and `curl` fetch, and that tasks' mounts and inputs read), as Taskcluster
 * deployments usually grant. Made once; a role the user changed or deleted is left alone.
 */
export const ANONYMOUS_SCOPES = ['queue:get-artifact:public/*'];
async function seedAnonymousRole(rootUrl: string, root: { clientId: string; accessToken: string }) {
  const auth = new taskcluster.Auth({ rootUrl, credentials: root, retries: 0 });
  try {
    await auth.createRole('anonymous', {
      description: 'What requests without credentials may do (made by the first `taskyard up`).',
      scopes: ANONYMOUS_SCOPES,
    });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 409) throw err;
  }
}
