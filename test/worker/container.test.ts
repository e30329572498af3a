import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestTaskyard, type TestTaskyard } from '../helpers/taskyard.ts';
import { artifactText, backingLog, createTask, startWorker, type TestWorker, waitForRun } from './helpers.ts';
import { toolAvailable } from './tools.ts';

const hasPodman = toolAvailable('podman', '/usr/bin/podman');
const BUSYBOX = '/bin/busybox';

describe.skipIf(!hasPodman)('worker, container engine (podman)', () => {
  let ty: TestTaskyard;
  let w: TestWorker;
  const image = `localhost/taskyard-test-busybox:${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'taskyard-image-'));
  beforeAll(async () => {
    // A tiny image without a registry: busybox-static and its applet links, imported as a rootfs.
    toolAvailable('podman', BUSYBOX);
    const root = join(dir, 'rootfs');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true });
    copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
    for (const applet of ['sh', 'echo', 'cat', 'mkdir', 'sleep', 'ls', 'env', 'wc', 'true']) {
      symlinkSync('busybox', join(root, 'bin', applet));
    }
    execFileSync('tar', ['-C', root, '-cf', join(dir, 'rootfs.tar'), '.']);
    execFileSync('podman', ['import', '--change', 'ENV=PATH=/bin', join(dir, 'rootfs.tar'), image]);
    ty = await startTestTaskyard({ realClock: true });
    w = await startWorker(ty, { engine: 'container', capacity: 1 });
  }, 120_000);
  afterAll(async () => {
    await w?.stop();
    await ty?.stop();
    try {
      execFileSync('podman', ['rmi', '-f', image], { stdio: 'ignore' });
    } catch {}
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a docker-worker payload: output, env, exit code, artifacts copied out, caches as volumes', async () => {
    const payload = {
      image,
      command: [
        '/bin/sh',
        '-c',
        'echo hi from $WHO; mkdir -p /out; echo art > /out/a.txt; echo x >> /cache/n; wc -l < /cache/n',
      ],
      env: { WHO: 'container' },
      maxRunTime: 60,
      artifacts: { 'public/a.txt': { type: 'file', path: '/out/a.txt' } },
      cache: { 'ctr-cache': '/cache' },
    };
    const scopes = ['docker-worker:cache:ctr-cache'];
    const first = await createTask(ty, w, payload, { scopes });
    const status = await waitForRun(ty, first);
    const log = await backingLog(ty, first);
    expect(status.runs[0].state, log).toBe('completed');
    expect(log).toMatch(/Engine: container \(.*podman, image localhost\/taskyard-test-busybox/);
    expect(log).toMatch(/\] hi from container\n/);
    expect(log).toMatch(/\] 1\n/);
    expect(await artifactText(ty, first, 0, 'public/a.txt')).toBe('art\n');
    const second = await createTask(ty, w, payload, { scopes });
    await waitForRun(ty, second);
    expect(await backingLog(ty, second)).toMatch(/\] 2\n/);
  }, 180_000);

  it('gives a container with features.taskclusterProxy the proxy (and the host network), others none', async () => {
    const url = '"$TASKCLUSTER_PROXY_URL/api/auth/v1/scopes/current"';
    const withProxy = await createTask(
      ty,
      w,
      {
        image,
        command: ['/bin/sh', '-c', `wget -q -O - ${url}; echo`],
        maxRunTime: 60,
        features: { taskclusterProxy: true },
      },
      { scopes: ['auth:current-scopes', 'project:container-proxy'] },
    );
    const status = await waitForRun(ty, withProxy);
    const log = await backingLog(ty, withProxy);
    expect(status.runs[0].state, log).toBe('completed');
    expect(log).toMatch(/"scopes":\["assume:anonymous","auth:current-scopes","project:container-proxy"\]/);
    const without = await createTask(ty, w, {
      image,
      command: [
        '/bin/sh',
        '-c',
        'test -z "$TASKCLUSTER_PROXY_URL" && tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "',
      ],
      maxRunTime: 60,
    });
    expect((await waitForRun(ty, without)).runs[0].state).toBe('completed');
    expect(await backingLog(ty, without)).toMatch(/\] lo\n\[taskyard/);
  }, 180_000);

  it('propagates a failing exit code, kills on maxRunTime, and refuses a missing cache scope', async () => {
    const failing = await createTask(ty, w, { image, command: ['/bin/sh', '-c', 'exit 7'], maxRunTime: 60 });
    const s1 = await waitForRun(ty, failing);
    expect(s1.runs[0].state).toBe('failed');
    expect(await backingLog(ty, failing)).toMatch(/Exit code: 7/);

    const slow = await createTask(ty, w, { image, command: ['/bin/sleep', '600'], maxRunTime: 2 });
    const s2 = await waitForRun(ty, slow);
    expect(s2.runs[0].state).toBe('failed');
    expect(await backingLog(ty, slow)).toMatch(/exceeded its maxRunTime of 2 seconds/);

    const noScope = await createTask(ty, w, { image, maxRunTime: 60, cache: { other: '/c' } });
    const s3 = await waitForRun(ty, noScope);
    expect(s3.runs[0]).toMatchObject({ state: 'exception', reasonResolved: 'malformed-payload' });
    expect(await backingLog(ty, noScope)).toMatch(/lacks the scope docker-worker:cache:other/);
  }, 180_000);
});
