import { randomBytes } from 'node:crypto';
import pino from 'pino';
import slugid from 'slugid';
import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, configDefaults } from '../../../src/platform/config.ts';
import { InProcessBus } from '../../../src/platform/events/index.ts';
import { createTaskyard, type Taskyard } from '../../../src/server.ts';
import { rejection } from '../../helpers/clients.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';

const lines: string[] = [];
const root = { clientId: 'static/taskcluster/root', accessToken: slugid.v4() + slugid.v4() };
let database: TestDatabase;
let bus: InProcessBus;
let taskyard: Taskyard;
let rootUrl: string;

beforeAll(async () => {
  database = await createTestDatabase();
  bus = new InProcessBus();
  const config: Config = {
    ...configDefaults,
    port: 0,
    accessTokenKey: randomBytes(32).toString('base64'),
    secretsKey: randomBytes(32).toString('base64'),
    staticClients: [{ ...root, scopes: ['*'] }],
    logLevel: 'trace',
  };
  // Every line the process logs, at the most verbose level.
  const logger = pino({ level: 'trace' }, { write: (line: string) => lines.push(line) });
  taskyard = await createTaskyard({
    config,
    services: ['auth', 'secrets'],
    database: database.db,
    bus,
    logger,
  });
  rootUrl = await taskyard.listen();
});
afterAll(async () => {
  await taskyard?.stop();
  await bus?.close();
  await database?.drop();
});

describe('logging', () => {
  it('logs who set, read and removed which secret, and never a value, whatever the outcome', async () => {
    const value = `hunter2-${randomBytes(8).toString('hex')}`;
    const expires = new Date(Date.now() + 86400e3).toJSON();
    const secrets = new taskcluster.Secrets({ rootUrl, credentials: root, retries: 0 });
    const anonymous = new taskcluster.Secrets({ rootUrl, retries: 0 });

    await secrets.set('logged/one', { secret: { password: value }, expires });
    expect((await secrets.get('logged/one')).secret).toEqual({ password: value });
    expect((await rejection(secrets.set('logged/one', { secret: value, expires }))).statusCode).toBe(400);
    expect(
      (await rejection(anonymous.set('logged/one', { secret: { password: value }, expires }))).statusCode,
    ).toBe(403);
    const malformed = await fetch(`${rootUrl}/api/secrets/v1/secret/logged/one`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: `{"secret": {"password": ${value}}`,
    });
    expect(malformed.status).toBe(400);
    // A value that does not decrypt (moved from another name) is a 500, which logs its error.
    await secrets.set('logged/two', { secret: { other: 'x' }, expires });
    await database.db.query(
      `update secrets t set encrypted_value = s.encrypted_value from secrets s
       where s.name = 'logged/one' and t.name = 'logged/two'`,
    );
    expect((await rejection(secrets.get('logged/two'))).statusCode).toBe(500);
    await secrets.remove('logged/one');

    const log = lines.join('');
    expect(log).not.toContain(value);
    expect(log).not.toContain(value.slice(-8));
    const entries = lines.map((l) => JSON.parse(l));
    expect(entries).toContainEqual(
      expect.objectContaining({ secret: 'logged/one', clientId: root.clientId, action: 'created' }),
    );
    expect(entries).toContainEqual(expect.objectContaining({ secret: 'logged/one', action: 'deleted' }));
    expect(entries).toContainEqual(
      expect.objectContaining({
        service: 'secrets',
        endpoint: 'set',
        status: 403,
        url: '/api/secrets/v1/secret/logged%2Fone',
      }),
    );
    expect(entries).toContainEqual(expect.objectContaining({ msg: 'request failed' }));
  });
});
