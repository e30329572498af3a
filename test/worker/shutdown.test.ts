import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import slugid from 'slugid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../src/worker/config.ts';
import { runCli } from '../helpers/cli.ts';
import { makeClient } from '../helpers/clients.ts';
import { queueClient, taskDef } from '../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../helpers/taskyard.ts';
import { waitFor } from './helpers.ts';

describe('taskyard worker (the command)', () => {
  let ty: TestTaskyard;
  const dir = mkdtempSync(join(tmpdir(), 'taskyard-worker-cli-'));
  beforeAll(async () => {
    ty = await startTestTaskyard({ realClock: true });
  }, 60_000);
  afterAll(async () => {
    await ty?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('on SIGTERM kills the running task, resolves it worker-shutdown (so the queue retries it) and exits 0', async () => {
    const creds = await makeClient(ty, 'worker/cli', [
      'queue:claim-work:test-prov/cli',
      'queue:worker-id:cli-group/*',
    ]);
    const configFile = join(dir, 'worker.yml');
    writeFileSync(
      configFile,
      `rootUrl: ${ty.rootUrl}\ncredentials:\n  clientId: ${creds.clientId}\n  accessToken: ${creds.accessToken}\n` +
        `taskQueueId: test-prov/cli\nworkerGroup: cli-group\nworkerId: one\ncapacity: 1\nworkDir: ${dir}/tasks\ncacheDir: ${dir}/caches\nshutdownGraceMs: 200\n`,
    );
    const worker = runCli(['worker', '--config', configFile], { LOG_LEVEL: 'warn' });
    try {
      await worker.waitFor(/Worker cli-group\/one is claiming from test-prov\/cli/);
      const taskId = slugid.nice();
      await queueClient(ty).createTask(
        taskId,
        taskDef(ty, {
          taskQueueId: 'test-prov/cli',
          payload: { command: [['/bin/sleep', '600']], maxRunTime: 900 },
        }),
      );
      await waitFor(async () => {
        const { status } = await queueClient(ty).status(taskId);
        return status.runs[0]?.state === 'running' ? true : undefined;
      }, 'the task to run');
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      const { status } = await queueClient(ty).status(taskId);
      expect(status.runs[0]).toMatchObject({ state: 'exception', reasonResolved: 'worker-shutdown' });
      expect(status.runs[1]).toMatchObject({ state: 'pending', reasonCreated: 'retry' });
    } finally {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    }
  }, 120_000);

  it('on SIGTERM while idle, a task its waiting claimWork still gets is handed back, never left claimed', async () => {
    const creds = await makeClient(ty, 'worker/idle', [
      'queue:claim-work:test-prov/idle',
      'queue:worker-id:idle-group/*',
    ]);
    const configFile = join(dir, 'idle.yml');
    writeFileSync(
      configFile,
      `rootUrl: ${ty.rootUrl}\ncredentials:\n  clientId: ${creds.clientId}\n  accessToken: ${creds.accessToken}\n` +
        `taskQueueId: test-prov/idle\nworkerGroup: idle-group\nworkerId: one\ncapacity: 1\nworkDir: ${dir}/idle-tasks\ncacheDir: ${dir}/idle-caches\nshutdownGraceMs: 0\n`,
    );
    const worker = runCli(['worker', '--config', configFile], { LOG_LEVEL: 'warn' });
    try {
      await worker.waitFor(/Worker idle-group\/one is claiming from test-prov\/idle/);
      await waitFor(async () => {
        const res = await queueClient(ty).listWorkers('test-prov', 'idle');
        return res.workers.length > 0 ? true : undefined;
      }, 'the worker to poll');
      worker.child.kill('SIGTERM');
      const taskId = slugid.nice();
      await queueClient(ty).createTask(
        taskId,
        taskDef(ty, { taskQueueId: 'test-prov/idle', payload: { command: [['/bin/true']], maxRunTime: 60 } }),
      );
      expect(await worker.exited).toBe(0);
      const { status } = await queueClient(ty).status(taskId);
      // Either the waiting claim took it and handed it back, or nobody took it: never a claim
      // left to expire on a worker that is gone.
      if (status.runs.length > 1) {
        expect(status.runs[0]).toMatchObject({ state: 'exception', reasonResolved: 'worker-shutdown' });
        expect(status.runs[1]).toMatchObject({ state: 'pending', reasonCreated: 'retry' });
      } else {
        expect(status.runs[0].state).toBe('pending');
      }
    } finally {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    }
  }, 120_000);

  it('names the setting in a bad configuration', async () => {
    const base = {
      rootUrl: 'http://x',
      clientId: 'c',
      accessToken: 't',
      taskQueueId: 'a/b',
      workerGroup: 'g',
      workerId: 'w',
    };
    expect(() => loadWorkerConfig({ ...base, capacity: 'lots' }, {})).toThrow(
      /worker setting "capacity" \(from command line\)/,
    );
    expect(() => loadWorkerConfig({ ...base, engine: 'vm' }, {})).toThrow(
      /"engine".*"process" or "container"/,
    );
    expect(() => loadWorkerConfig({ ...base, taskQueueId: 'nope' }, {})).toThrow(/"taskQueueId"/);
    const { workerId: _, ...noId } = base;
    expect(() => loadWorkerConfig(noId, {})).toThrow(/worker setting "workerId" is required/);
    expect(loadWorkerConfig(base, { TASKYARD_WORKER_CAPACITY: '3' }).capacity).toBe(3);
    const bad = runCli(['worker', '--root-url', 'ftp://x'], {});
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toMatch(/worker setting "rootUrl" \(from command line\)/);
  }, 60_000);
});
