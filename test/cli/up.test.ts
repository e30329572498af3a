import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import taskcluster from 'taskcluster-client';
import { afterAll, describe, expect, it } from 'vitest';
import { type Running, runCli } from '../helpers/cli.ts';

describe('taskyard up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskyard-up-'));
  const dataDir = join(dir, 'data');
  const running: Running[] = [];
  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('serves with root credentials, refuses a second up on the same data, stops cleanly and keeps data', async () => {
    await chmod(dir, 0o755);
    const first = runCli(['up', '--port', '0', '--data-dir', dataDir]);
    running.push(first);
    const [, rootUrl] = await first.waitFor(/Taskyard is up at (http:\/\/\S+)/);

    const credsFile = join(dataDir, 'credentials.json');
    expect(statSync(credsFile).mode & 0o777).toBe(0o600);
    const creds = JSON.parse(readFileSync(credsFile, 'utf8'));
    expect(creds.rootUrl).toBe(rootUrl);
    const auth = new taskcluster.Auth({ rootUrl, credentials: creds, retries: 0 });
    // Public artifacts are readable without credentials on a fresh up; the role is the user's after that.
    expect((await auth.role('anonymous')).scopes).toEqual(['queue:get-artifact:public/*']);
    await auth.deleteRole('anonymous');
    await auth.createClient('kept/client', {
      expires: new Date(Date.now() + 86400e3).toJSON(),
      description: 'kept',
    });

    const second = runCli(['up', '--port', '0', '--data-dir', dataDir]);
    running.push(second);
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/already running on .* \(pid \d+\)/);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
    expect(existsSync(join(dataDir, 'taskyard.pid'))).toBe(false);

    const again = runCli(['up', '--port', '0', '--data-dir', dataDir]);
    running.push(again);
    const [, rootUrl2] = await again.waitFor(/Taskyard is up at (http:\/\/\S+)/);
    const creds2 = JSON.parse(readFileSync(credsFile, 'utf8'));
    expect(creds2.accessToken).toBe(creds.accessToken);
    const auth2 = new taskcluster.Auth({ rootUrl: rootUrl2, credentials: creds2, retries: 0 });
    expect((await auth2.client('kept/client')).description).toBe('kept');
    await expect(auth2.role('anonymous')).rejects.toMatchObject({ statusCode: 404 });
    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
  }, 120_000);
});
