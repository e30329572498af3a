import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Running, repoRoot, runCli } from '../helpers/cli.ts';

/** The README's quickstart, end to end: `taskyard up` with its worker pool, then the CLI. */
describe('quickstart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskyard-quickstart-'));
  const dataDir = join(dir, 'data');
  // The CLI must find the deployment through the data dir, not through an inherited environment.
  const env = { TASKCLUSTER_ROOT_URL: '', NO_COLOR: '1' };
  const running: Running[] = [];
  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await Promise.all(running.map((r) => r.exited));
    await rm(dir, { recursive: true, force: true });
  });

  it('runs examples/hello.yml with --follow, prints its echo, exits 0, and downloads its artifact', async () => {
    await chmod(dir, 0o755);
    const up = runCli(['up', '--port', '0', '--data-dir', dataDir], env);
    running.push(up);
    await up.waitFor(/Taskyard is up at (http:\/\/\S+)/, 120_000);

    const create = runCli(['task', 'create', 'examples/hello.yml', '--follow', '--data-dir', dataDir], env);
    running.push(create);
    expect(await create.exited).toBe(0);
    const output = create.output();
    expect(output).toContain('Hello from Taskyard!');
    const taskId = output.match(/^([A-Za-z0-9_-]{22})$/m)?.[1];
    expect(taskId).toBeDefined();
    expect(output).toContain(`task ${taskId} completed`);

    const artifact = runCli(
      ['task', 'artifact', taskId as string, 'public/greeting.txt', '--data-dir', dataDir],
      env,
    );
    running.push(artifact);
    expect(await artifact.exited).toBe(0);
    expect(artifact.output()).toBe(`hello, task ${taskId}\n`);

    up.child.kill('SIGTERM');
    expect(await up.exited).toBe(0);
  }, 240_000);

  it('works as the package bin that `npx taskyard` runs', () => {
    const res = spawnSync(process.execPath, ['bin/taskyard.js', 'task', '--help'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('create [options] <file>');
  });
});
