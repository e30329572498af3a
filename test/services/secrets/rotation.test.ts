import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, ConfigError, configDefaults, loadConfig } from '../../../src/platform/config.ts';
import type { Database } from '../../../src/platform/db/index.ts';
import { InProcessBus } from '../../../src/platform/events/index.ts';
import { createTaskyard } from '../../../src/server.ts';
import { createSecretsService, reencryptSecrets } from '../../../src/services/secrets/index.ts';
import { keyId, SecretsKeyring } from '../../../src/services/secrets/keyring.ts';
import { rejection } from '../../helpers/clients.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import { secretsClient } from './helpers.ts';

const newKey = () => randomBytes(32).toString('base64');
const idOf = (key: string) => keyId(Buffer.from(key, 'base64'));
const inADay = () => new Date(Date.now() + 86400e3).toJSON();
const silent = pino({ level: 'silent' });

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => database?.drop());

/** A Taskyard with these keys on the shared database (real clock: they take turns on one table). */
const startWith = (keys: Pick<Config, 'secretsKey' | 'secretsKeyOld'>, backgroundLoops = false) =>
  startTestTaskyard({
    services: ['auth', 'secrets'],
    database,
    config: keys,
    backgroundLoops,
    realClock: true,
  });

async function keyIds(): Promise<Record<string, string>> {
  const res = await database.db.query<{ name: string; keyId: string }>(
    'select name, key_id as "keyId" from secrets order by name',
  );
  return Object.fromEntries(res.rows.map((r) => [r.name, r.keyId]));
}

describe('key rotation', () => {
  const first = newKey();
  const second = newKey();
  const third = newKey();
  const values = { 'rot/a': { v: 'alpha' }, 'rot/b': { v: 'bravo' }, 'rot/c': { v: 'charlie' } };

  it('reads secrets sealed with secretsKeyOld, re-encrypting them on read and in a pass', async () => {
    let ty: TestTaskyard = await startWith({ secretsKey: first });
    try {
      for (const [name, secret] of Object.entries(values)) {
        await secretsClient(ty).set(name, { secret, expires: inADay() });
      }
      expect(Object.values(await keyIds())).toEqual([idOf(first), idOf(first), idOf(first)]);
    } finally {
      await ty.stop();
    }

    ty = await startWith({ secretsKey: second, secretsKeyOld: first });
    try {
      expect((await secretsClient(ty).get('rot/a')).secret).toEqual(values['rot/a']);
      expect(await keyIds()).toEqual({ 'rot/a': idOf(second), 'rot/b': idOf(first), 'rot/c': idOf(first) });
      await secretsClient(ty).set('rot/d', { secret: { v: 'delta' }, expires: inADay() });
      expect((await keyIds())['rot/d']).toBe(idOf(second));

      expect(await reencryptSecrets(database.db, new SecretsKeyring(second, first), silent)).toBe(2);
      expect(new Set(Object.values(await keyIds()))).toEqual(new Set([idOf(second)]));
      expect(await reencryptSecrets(database.db, new SecretsKeyring(second, first), silent)).toBe(0);
    } finally {
      await ty.stop();
    }

    // secretsKeyOld is no longer needed.
    ty = await startWith({ secretsKey: second });
    try {
      for (const [name, secret] of Object.entries(values)) {
        expect((await secretsClient(ty).get(name)).secret).toEqual(secret);
      }
      expect((await secretsClient(ty).get('rot/d')).secret).toEqual({ v: 'delta' });
    } finally {
      await ty.stop();
    }
  });

  it('re-encrypts everything in the background when started with secretsKeyOld and background loops', async () => {
    const ty = await startWith({ secretsKey: third, secretsKeyOld: second }, true);
    try {
      for (let i = 0; i < 200; i++) {
        if (new Set(Object.values(await keyIds())).size === 1 && (await keyIds())['rot/a'] === idOf(third))
          break;
        await sleep(25);
      }
      expect(new Set(Object.values(await keyIds()))).toEqual(new Set([idOf(third)]));
      for (const [name, secret] of Object.entries(values)) {
        expect((await secretsClient(ty).get(name)).secret).toEqual(secret);
      }
    } finally {
      await ty.stop();
    }
  });

  it('answers 500 without the value for a secret whose key is not configured, and keeps it', async () => {
    const ty = await startWith({ secretsKey: newKey() });
    try {
      const err = await rejection(secretsClient(ty).get('rot/a'));
      expect(err.statusCode).toBe(500);
      expect(JSON.stringify(err.body)).not.toContain('alpha');
      expect((await secretsClient(ty).list()).secrets).toContain('rot/a');
    } finally {
      await ty.stop();
    }
    expect((await keyIds())['rot/a']).toBe(idOf(third));
  });
});

describe('configuration', () => {
  const options = (config: Config) => ({
    config,
    database: {} as Database,
    bus: new InProcessBus(),
    logger: silent,
    now: () => new Date(),
    rootUrl: () => 'http://localhost',
    backgroundLoops: false,
  });

  it('refuses to start the secrets service without secretsKey, naming the setting', async () => {
    expect(() => createSecretsService(options(configDefaults))).toThrow(ConfigError);
    expect(() => createSecretsService(options(configDefaults))).toThrow(
      /"secretsKey" \(TASKYARD_SECRETS_KEY\)/,
    );
    const err = await createTaskyard({
      ...options({ ...configDefaults, port: 0 }),
      services: ['secrets'],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('secretsKey');
  });

  it('refuses keys that are not base64 of 32 bytes', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => createSecretsService(options({ ...configDefaults, secretsKey: short }))).toThrow(
      /secretsKey/,
    );
    expect(() =>
      createSecretsService(options({ ...configDefaults, secretsKey: newKey(), secretsKeyOld: short })),
    ).toThrow(/secretsKeyOld \(TASKYARD_SECRETS_KEY_OLD\)|"secretsKeyOld"/);
    expect(() => loadConfig({ TASKYARD_SECRETS_KEY: 'short' })).toThrow(/secretsKey.*TASKYARD_SECRETS_KEY/);
    const key = newKey();
    const old = newKey();
    expect(loadConfig({ TASKYARD_SECRETS_KEY: key, TASKYARD_SECRETS_KEY_OLD: old })).toMatchObject({
      secretsKey: key,
      secretsKeyOld: old,
    });
  });
});
