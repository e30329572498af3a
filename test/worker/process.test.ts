import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueClient, queueClientFromReference } from '../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../helpers/taskyard.ts';
import {
  artifactNames,
  artifactText,
  backingLog,
  createTask,
  startWorker,
  type TestWorker,
  waitFor,
  waitForRun,
} from './helpers.ts';

describe('worker, process engine', () => {
  let ty: TestTaskyard;
  let w: TestWorker;
  beforeAll(async () => {
    ty = await startTestTaskyard({ realClock: true });
    w = await startWorker(ty, { capacity: 2 });
  }, 60_000);
  afterAll(async () => {
    await w?.stop();
    await ty?.stop();
  });

  it('runs hello world: completed, with a log of header, output lines and footer, and an artifact', async () => {
    const taskId = await createTask(ty, w, {
      command: [
        [
          '/bin/sh',
          '-c',
          'echo hello world; echo to stderr >&2; mkdir -p out; printf "result" > out/result.txt',
        ],
      ],
      maxRunTime: 60,
      artifacts: [{ type: 'file', path: 'out/result.txt', name: 'public/result.txt' }],
    });
    const status = await waitForRun(ty, taskId);
    expect(status.runs[0].state).toBe('completed');
    const log = await backingLog(ty, taskId);
    expect(log).toMatch(/^\[taskyard \S+\] Task \S+ run 0 on worker test-group\//);
    expect(log).toMatch(/Engine: process/);
    expect(log).toMatch(/\n\[\d{4}-\d\d-\d\dT[^\]]+\] hello world\n/);
    expect(log).toMatch(/\n\[[^\]]+\] to stderr\n/);
    expect(log).toMatch(/Finished: completed; exit code 0; took \d+\.\d+ s/);
    expect(await artifactText(ty, taskId, 0, 'public/result.txt')).toBe('result');
    const names = await artifactNames(ty, taskId, 0);
    expect(names).toEqual(['public/logs/live.log', 'public/logs/live_backing.log', 'public/result.txt']);
    const artifacts = (await queueClient(ty).listArtifacts(taskId, 0)).artifacts;
    const live = artifacts.find((a: { name: string }) => a.name === 'public/logs/live.log');
    expect(live.storageType).toBe('reference');
  }, 120_000);

  it('gives a task with features.taskclusterProxy the API as itself: its scopes, and nothing more', async () => {
    const secrets = new taskcluster.Secrets({ rootUrl: ty.rootUrl, credentials: ty.root });
    const name = `project/proxy-${Math.random().toString(36).slice(2, 8)}`;
    await secrets.set(name, {
      secret: { password: 'hunter2' },
      expires: new Date(Date.now() + 3600e3).toJSON(),
    });
    await secrets.set(`${name}-other`, {
      secret: { no: 1 },
      expires: new Date(Date.now() + 3600e3).toJSON(),
    });
    // The task reads its secret, is refused the other one, and cannot resolve its own run.
    const script = [
      'const u = process.env.TASKCLUSTER_PROXY_URL;',
      `const get = (n) => fetch(u + '/api/secrets/v1/secret/' + n).then(async (r) => r.status + ' ' + await r.text());`,
      `const resolve = () => fetch(u + '/api/queue/v1/task/' + process.env.TASK_ID + '/runs/0/completed', { method: 'POST' }).then((r) => r.status);`,
      `(async () => { console.log('MINE', await get('${name}')); console.log('OTHER', await get('${name}-other')); console.log('RESOLVE', await resolve()); })();`,
    ].join('\n');
    const taskId = await createTask(
      ty,
      w,
      { command: [['node', '-e', script]], maxRunTime: 60, features: { taskclusterProxy: true } },
      { scopes: [`secrets:get:${name}`] },
    );
    const status = await waitForRun(ty, taskId);
    expect(status.runs[0].state).toBe('completed');
    const log = await backingLog(ty, taskId);
    expect(log).toMatch(/MINE 200 .*"password":"hunter2"/);
    expect(log).toMatch(/OTHER 403 .*InsufficientScopes/);
    expect(log).toMatch(/RESOLVE 403/);
    expect(log).not.toMatch(/TASKCLUSTER_ACCESS_TOKEN/);
  }, 120_000);

  it('stops at the first failing command and reports failed', async () => {
    const taskId = await createTask(ty, w, {
      command: [
        ['/bin/sh', '-c', 'echo first'],
        ['/bin/sh', '-c', 'exit 3'],
        ['/bin/sh', '-c', 'echo never-runs'],
      ],
      maxRunTime: 60,
    });
    const status = await waitForRun(ty, taskId);
    expect(status.runs[0].state).toBe('failed');
    const log = await backingLog(ty, taskId);
    expect(log).toMatch(/first/);
    expect(log).toMatch(/Exit code: 3/);
    expect(log).not.toMatch(/\] never-runs/);
  }, 120_000);

  it('kills the whole process group when maxRunTime is exceeded, grandchildren included', async () => {
    const marker = `${w.dir}/grandchild-${Date.now()}`;
    const taskId = await createTask(ty, w, {
      command: [['/bin/sh', '-c', `(sleep 4; touch ${marker}) & sleep 600`]],
      maxRunTime: 1,
    });
    const status = await waitForRun(ty, taskId);
    expect(status.runs[0].state).toBe('failed');
    expect(await backingLog(ty, taskId)).toMatch(/exceeded its maxRunTime of 1 seconds/);
    // The grandchild would have touched the marker 4 s in; give it time to prove it was killed.
    await new Promise((r) => setTimeout(r, 5000));
    expect(existsSync(marker)).toBe(false);
  }, 120_000);

  it('fails with an error artifact when a required artifact is missing, skips optional ones, uploads directories', async () => {
    const taskId = await createTask(ty, w, {
      command: [['/bin/sh', '-c', 'mkdir -p d/sub; echo a > d/a.txt; echo b > d/sub/b.json']],
      maxRunTime: 60,
      artifacts: [
        { type: 'directory', path: 'd', name: 'public/dir' },
        { type: 'file', path: 'nope.txt', name: 'public/optional.txt', optional: true },
        { type: 'file', path: 'missing.txt', name: 'public/missing.txt' },
      ],
    });
    const status = await waitForRun(ty, taskId);
    expect(status.runs[0].state).toBe('failed');
    const names = await artifactNames(ty, taskId, 0);
    expect(names).toContain('public/dir/a.txt');
    expect(names).toContain('public/dir/sub/b.json');
    expect(names).toContain('public/missing.txt');
    expect(names).not.toContain('public/optional.txt');
    const artifacts = (await queueClient(ty).listArtifacts(taskId, 0)).artifacts;
    expect(artifacts.find((a: { name: string }) => a.name === 'public/missing.txt').storageType).toBe(
      'error',
    );
    expect(await artifactText(ty, taskId, 0, 'public/dir/sub/b.json')).toBe('b\n');
    expect(await backingLog(ty, taskId)).toMatch(
      /Artifact public\/missing\.txt: missing\.txt does not exist/,
    );
  }, 120_000);

  it('resolves an invalid payload as malformed-payload with the errors in the log', async () => {
    const taskId = await createTask(ty, w, { command: 'echo not a list', maxRunTime: 'soon', bogus: 1 });
    const status = await waitForRun(ty, taskId);
    expect(status.runs[0]).toMatchObject({ state: 'exception', reasonResolved: 'malformed-payload' });
    const log = await backingLog(ty, taskId);
    expect(log).toMatch(/payload\.command must be array/);
    expect(log).toMatch(/payload\.maxRunTime must be integer/);
    expect(log).toMatch(/must NOT have additional properties: bogus/);
  }, 120_000);

  it('gives the task only its own env: no worker credentials, a minimal PATH, TASK_ID and RUN_ID', async () => {
    process.env.TASKCLUSTER_ACCESS_TOKEN_LEAK_CHECK = 'worker-secret-value';
    const taskId = await createTask(ty, w, {
      command: [['/bin/sh', '-c', 'env | sort > env.txt']],
      env: { GREETING: 'hi' },
      maxRunTime: 60,
      artifacts: [{ type: 'file', path: 'env.txt', name: 'public/env.txt' }],
    });
    await waitForRun(ty, taskId);
    const env = await artifactText(ty, taskId, 0, 'public/env.txt');
    delete process.env.TASKCLUSTER_ACCESS_TOKEN_LEAK_CHECK;
    expect(env).toMatch(new RegExp(`^TASK_ID=${taskId}$`, 'm'));
    expect(env).toMatch(/^RUN_ID=0$/m);
    expect(env).toMatch(/^GREETING=hi$/m);
    expect(env).toMatch(/^PATH=\/usr\/local\/sbin:/m);
    expect(env).toMatch(new RegExp(`^TASKCLUSTER_ROOT_URL=${ty.rootUrl}$`, 'm'));
    expect(env).not.toContain(w.config.credentials.accessToken);
    expect(env).not.toContain(w.config.credentials.clientId);
    expect(env).not.toContain('worker-secret-value');
  }, 120_000);

  it('resolves onExitStatus.retry exit codes as intermittent-task, and the queue reruns the task', async () => {
    const taskId = await createTask(ty, w, {
      command: [['/bin/sh', '-c', 'if [ "$RUN_ID" = 0 ]; then exit 42; fi; echo second run']],
      maxRunTime: 60,
      onExitStatus: { retry: [42] },
    });
    const status = await waitForRun(ty, taskId, 1);
    expect(status.runs[0]).toMatchObject({ state: 'exception', reasonResolved: 'intermittent-task' });
    expect(status.runs[1]).toMatchObject({ state: 'completed', reasonCreated: 'task-retry' });
    expect(await backingLog(ty, taskId, 1)).toMatch(/second run/);
  }, 120_000);

  it('keeps a task that was claimed past its first takenUntil alive by reclaiming', async () => {
    const settings = ty.taskyard.queue!.context.settings;
    const before = settings.claimTimeoutMs;
    settings.claimTimeoutMs = 3000;
    try {
      const taskId = await createTask(ty, w, {
        command: [['/bin/sh', '-c', 'sleep 7; echo survived']],
        maxRunTime: 60,
      });
      const status = await waitForRun(ty, taskId);
      expect(status.runs).toHaveLength(1);
      expect(status.runs[0].state).toBe('completed');
      expect(await backingLog(ty, taskId)).toMatch(/survived/);
    } finally {
      settings.claimTimeoutMs = before;
    }
  }, 120_000);

  it('removes the task directory after the run', async () => {
    const taskId = await createTask(ty, w, {
      command: [['/bin/sh', '-c', 'pwd > where.txt']],
      maxRunTime: 60,
      artifacts: [{ type: 'file', path: 'where.txt', name: 'public/where.txt' }],
    });
    await waitForRun(ty, taskId);
    const where = (await artifactText(ty, taskId, 0, 'public/where.txt')).trim();
    await waitFor(async () => (existsSync(where) ? undefined : true), 'the task directory to go');
  }, 120_000);

  it('streams the log live while the task runs, and getLiveLog answers the whole log after', async () => {
    const go = join(w.dir, `go-${Date.now()}`);
    const taskId = await createTask(ty, w, {
      command: [
        ['/bin/sh', '-c', `echo first line; while [ ! -f ${go} ]; do sleep 0.1; done; echo second line`],
      ],
      maxRunTime: 120,
    });
    const q = await queueClientFromReference(ty);
    const liveText = async (follow: boolean) => {
      const res = await fetch(q.buildSignedUrl(q.getLiveLog, taskId, 0, { follow: String(follow) }));
      return res.ok ? res.text() : undefined;
    };
    const early = await waitFor(async () => {
      const text = await liveText(false);
      return text?.includes('first line') ? text : undefined;
    }, 'the first line in the live log');
    expect((await queueClient(ty).status(taskId)).status.state).toBe('running');
    expect(early).toMatch(/Task \S+ run 0 on worker/);
    expect(early).not.toMatch(/\] second line\n/);
    writeFileSync(go, '');
    await waitForRun(ty, taskId);
    const full = await liveText(true);
    expect(full).toMatch(/\] second line\n/);
    expect(full).toBe(await backingLog(ty, taskId));
  }, 120_000);
});
