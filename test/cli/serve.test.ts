import { randomBytes } from 'node:crypto';
import slugid from 'slugid';
import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, runCli } from '../helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

describe('taskyard serve and migrate', () => {
  let empty: TestDatabase;
  const running: Running[] = [];
  const root = { clientId: 'static/taskcluster/root', accessToken: slugid.v4() + slugid.v4() };
  const env = () => ({
    DATABASE_URL: empty.url,
    TASKYARD_ACCESS_TOKEN_KEY: randomBytes(32).toString('base64'),
    TASKYARD_STATIC_CLIENTS: JSON.stringify([{ ...root, scopes: ['*'] }]),
    TASKYARD_HOST: '127.0.0.1',
    AMQP_URL: '',
    LOG_LEVEL: 'warn',
  });
  beforeAll(async () => {
    empty = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await empty?.drop();
  });

  it('refuses to serve a database that is behind, and serves once migrated', async () => {
    const refused = runCli(['serve', '--services', 'auth', '--port', '0'], env());
    running.push(refused);
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toMatch(/run `taskyard migrate`/);

    const migrate = runCli(['migrate'], env());
    expect(await migrate.exited).toBe(0);
    expect(migrate.output()).toMatch(/applied \d+ migration/);
    const again = runCli(['migrate'], env());
    expect(await again.exited).toBe(0);
    expect(again.output()).toMatch(/nothing to do/);

    const serve = runCli(['serve', '--services', 'auth', '--port', '0'], env());
    running.push(serve);
    const [, rootUrl] = await serve.waitFor(/Taskyard is up at (http:\/\/\S+)/);
    const auth = new taskcluster.Auth({ rootUrl, credentials: root, retries: 0 });
    expect((await auth.currentScopes()).scopes).toContain('*');
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  }, 120_000);

  it('stops at start-up on bad configuration, naming the setting', async () => {
    const badPort = runCli(['serve', '--services', 'auth'], { ...env(), TASKYARD_PORT: 'eighty' });
    expect(await badPort.exited).toBe(1);
    expect(badPort.output()).toContain('TASKYARD_PORT="eighty" is not a whole number');

    const badService = runCli(['serve', '--services', 'auth,nope'], env());
    expect(await badService.exited).toBe(1);
    expect(badService.output()).toContain('unknown service(s) "nope"');

    const badClients = runCli(['serve', '--services', 'auth'], {
      ...env(),
      TASKYARD_STATIC_CLIENTS: '[{"clientId": 1}]',
    });
    expect(await badClients.exited).toBe(1);
    expect(badClients.output()).toMatch(
      /setting "staticClients\.0\.\w+" \(from environment variable TASKYARD_STATIC_CLIENTS\)/,
    );

    const noKey = runCli(['serve', '--services', 'auth', '--port', '0'], {
      ...env(),
      TASKYARD_ACCESS_TOKEN_KEY: '',
    });
    expect(await noKey.exited).toBe(1);
    expect(noKey.output()).toContain('accessTokenKey');
  }, 120_000);
});
