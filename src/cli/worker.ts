import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import type { Logger } from 'pino';
import { createLogger } from '../platform/log.ts';
import { loadWorkerConfig, type WorkerFlags } from '../worker/config.ts';
import { Worker } from '../worker/worker.ts';
import { runUntilSignal } from './run-until-signal.ts';

/** Registers `taskyard worker`: a worker daemon that pulls tasks from a Taskyard queue. */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run tasks from a task queue (a pull-based worker, like generic-worker/docker-worker)')
    .option('-c, --config <file>', 'YAML or JSON config file (default: $TASKYARD_WORKER_CONFIG)')
    .option('--root-url <url>', 'Taskyard root URL (default: $TASKCLUSTER_ROOT_URL)')
    .option('--client-id <id>', 'worker client id (default: $TASKCLUSTER_CLIENT_ID)')
    .option('--access-token <token>', 'worker access token (default: $TASKCLUSTER_ACCESS_TOKEN)')
    .option('--task-queue-id <id>', 'provisionerId/workerType to claim from')
    .option('--worker-group <group>', 'worker group')
    .option('--worker-id <id>', 'worker id')
    .option('--capacity <n>', 'tasks at once (default: number of CPUs)')
    .option('--engine <engine>', 'process or container (default: process)')
    .option('--work-dir <dir>', 'where task directories are made')
    .option('--cache-dir <dir>', 'where named caches live')
    .option('--max-task-run-time <seconds>', 'the longest maxRunTime a task may ask for')
    .option('--sandbox <kind>', 'none or bwrap (process engine)')
    .option('--shutdown-grace-ms <ms>', 'how long running tasks get after SIGTERM before they are killed')
    .option('--keep-task-dirs', 'keep task directories after each run')
    .option('--container-cli <path>', 'podman or docker binary (default: detected)')
    .action(async (opts: WorkerFlags & Record<string, unknown>) => {
      const config = loadWorkerConfig(opts);
      const logger = createLogger((process.env.LOG_LEVEL as 'info' | undefined) ?? 'info', {
        proc: 'worker',
        workerId: config.workerId,
      });
      const worker = new Worker(config, logger);
      worker.start();
      console.log(
        `Worker ${config.workerGroup}/${config.workerId} is claiming from ${config.taskQueueId} ` +
          `(engine ${config.engine}${config.sandbox === 'bwrap' ? ' in bubblewrap' : ''}, capacity ${config.capacity})`,
      );
      runUntilSignal(
        () => worker.stop(),
        (line) => console.log(line),
      );
    });
}

export function parseWorkers(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 1024)
    throw new InvalidArgumentError('expected a whole number of tasks from 0 to 1024');
  return Number(value);
}

/** The static client of `taskyard up`'s local worker pool. */
export const LOCAL_WORKER_CLIENT_ID = 'static/taskyard/local-worker';
export const LOCAL_WORKER_SCOPES = [
  'queue:claim-work:local/default',
  'queue:worker-id:local/*',
  'purge-cache:purge-requests:*',
];

/** The worker pool `taskyard up` runs in its own process: task queue local/default, process engine. */
export function startLocalWorkerPool(opts: {
  rootUrl: string;
  dataDir: string;
  capacity: number;
  credentials: { clientId: string; accessToken: string };
  logger: Logger;
}): Worker {
  const worker = new Worker(
    {
      rootUrl: opts.rootUrl,
      credentials: { clientId: opts.credentials.clientId, accessToken: opts.credentials.accessToken },
      taskQueueId: 'local/default',
      workerGroup: 'local',
      workerId: 'local-pool',
      capacity: opts.capacity,
      engine: 'process',
      workDir: join(opts.dataDir, 'worker', 'tasks'),
      cacheDir: join(opts.dataDir, 'worker', 'caches'),
      maxTaskRunTime: 24 * 3600,
      sandbox: 'none',
      shutdownGraceMs: 5_000,
      keepTaskDirs: false,
    },
    opts.logger.child({ proc: 'local-worker' }),
  );
  worker.start();
  return worker;
}
