import { mkdtempSync, readFileSync } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import slugid from 'slugid';
import taskcluster from 'taskcluster-client';
import { afterAll, describe, expect, it } from 'vitest';
import { type Running, runCli } from '../helpers/cli.ts';

describe('taskyard up with its local worker pool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskyard-up-worker-'));
  const running: Running[] = [];
  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a task from local/default with the pool, prints the hint, and stops cleanly', async () => {
    await chmod(dir, 0o755);
    const up = runCli(['up', '--port', '0', '--data-dir', join(dir, 'data'), '--workers', '1']);
    running.push(up);
    const [, rootUrl] = await up.waitFor(/Taskyard is up at (http:\/\/\S+)/, 90_000);
    await up.waitFor(/Try: npx taskyard task create examples\/hello\.yml --follow/);
    expect(up.output()).toMatch(/Local worker pool: 1 at once from task queue local\/default/);
    const credentials = JSON.parse(readFileSync(join(dir, 'data', 'credentials.json'), 'utf8'));
    const queue = new taskcluster.Queue({ rootUrl, credentials, retries: 0 });
    const taskId = slugid.nice();
    const now = Date.now();
    await queue.createTask(taskId, {
      taskQueueId: 'local/default',
      created: new Date(now).toJSON(),
      deadline: new Date(now + 3600_000).toJSON(),
      payload: { command: [['/bin/sh', '-c', 'echo hello from the pool']], maxRunTime: 60 },
      metadata: {
        name: 'hello',
        description: 'hello',
        owner: 'me@example.com',
        source: 'https://example.com',
      },
    });
    let state = 'pending';
    const end = Date.now() + 90_000;
    while (Date.now() < end && ['pending', 'running'].includes(state)) {
      await new Promise((r) => setTimeout(r, 200));
      state = (await queue.status(taskId)).status.state;
    }
    expect(state).toBe('completed');
    const res = await fetch(
      queue.buildSignedUrl(queue.getLatestArtifact, taskId, 'public/logs/live_backing.log'),
    );
    expect(await res.text()).toMatch(/hello from the pool/);
    up.child.kill('SIGTERM');
    expect(await up.exited).toBe(0);
  }, 180_000);
});
