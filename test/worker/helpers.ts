import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import slugid from 'slugid';
import type { WorkerConfig } from '../../src/worker/config.ts';
import { Worker } from '../../src/worker/worker.ts';
import { makeClient } from '../helpers/clients.ts';
import { queueClient, taskDef } from '../helpers/queue.ts';
import type { TestTaskyard } from '../helpers/taskyard.ts';
import { waitFor } from '../helpers/wait.ts';

export { waitFor };

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

export interface TestWorker {
  worker: Worker;
  config: WorkerConfig;
  dir: string;
  workerType: string;
  stop(): Promise<void>;
}

/** A worker with its own client, task queue and directories, running against `ty`. */
export async function startWorker(ty: TestTaskyard, over: Partial<WorkerConfig> = {}): Promise<TestWorker> {
  const workerType =
    over.taskQueueId?.split('/')[1] ??
    `wt-${Array.from({ length: 10 }, () => 'abcdefghijklmnopqrstuvwxyz'[Math.floor(Math.random() * 26)]).join('')}`;
  const taskQueueId = `test-prov/${workerType}`;
  const dir = mkdtempSync(join(tmpdir(), 'taskyard-worker-'));
  const credentials = await makeClient(ty, `worker/${workerType}`, [
    `queue:claim-work:${taskQueueId}`,
    'queue:worker-id:test-group/*',
    'purge-cache:purge-requests:*',
  ]);
  const config: WorkerConfig = {
    rootUrl: ty.rootUrl,
    credentials,
    taskQueueId,
    workerGroup: 'test-group',
    workerId: `w-${workerType}`.slice(0, 38),
    capacity: 2,
    engine: 'process',
    workDir: join(dir, 'tasks'),
    cacheDir: join(dir, 'caches'),
    maxTaskRunTime: 3600,
    sandbox: 'none',
    shutdownGraceMs: 0,
    keepTaskDirs: false,
    ...over,
  };
  const worker = new Worker(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
  worker.start();
  let stopped = false;
  return {
    worker,
    config,
    dir,
    workerType,
    async stop() {
      if (!stopped) await worker.stop(0);
      stopped = true;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Creates a task for the worker's queue (root credentials, so any scopes may be given). */
export async function createTask(
  ty: TestTaskyard,
  w: TestWorker,
  payload: unknown,
  over: Record<string, unknown> = {},
): Promise<string> {
  const taskId = slugid.nice();
  await queueClient(ty).createTask(
    taskId,
    taskDef(ty, { taskQueueId: w.config.taskQueueId, payload, ...over }),
  );
  return taskId;
}

/** Waits for a run to be resolved and returns the task's status. */
export async function waitForRun(ty: TestTaskyard, taskId: string, runId = 0): Promise<Untyped> {
  return waitFor(async () => {
    const { status } = await queueClient(ty).status(taskId);
    const run = status.runs[runId];
    return run && !['pending', 'running'].includes(run.state) ? status : undefined;
  }, `run ${runId} of task ${taskId} to be resolved`);
}

/** The text of an artifact of a run (read with root credentials). */
export async function artifactText(
  ty: TestTaskyard,
  taskId: string,
  runId: number,
  name: string,
): Promise<string> {
  const q = queueClient(ty);
  const res = await fetch(q.buildSignedUrl(q.getArtifact, taskId, runId, name));
  if (!res.ok) throw new Error(`artifact ${name}: HTTP ${res.status} ${await res.text()}`);
  return res.text();
}

export async function artifactNames(ty: TestTaskyard, taskId: string, runId: number): Promise<string[]> {
  const res = await queueClient(ty).listArtifacts(taskId, runId);
  return res.artifacts.map((a: { name: string }) => a.name).sort();
}

export async function backingLog(ty: TestTaskyard, taskId: string, runId = 0): Promise<string> {
  return artifactText(ty, taskId, runId, 'public/logs/live_backing.log');
}
