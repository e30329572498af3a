import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireSecrets } from '../../../src/services/secrets/index.ts';
import { SecretsKeyring } from '../../../src/services/secrets/keyring.ts';
import { startSecretsMaintenance } from '../../../src/services/secrets/maintenance.ts';
import { rejection } from '../../helpers/clients.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import { fromClock, secretsClient } from './helpers.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  // The clock moves in these tests, so they have a Taskyard of their own; passes run by hand.
  ty = await startTestTaskyard({ services: ['auth', 'secrets'], backgroundLoops: false });
});
afterAll(async () => ty?.stop());

const rowExists = async (name: string) =>
  (await ty.testDb.db.query('select 1 from secrets where name = $1', [name])).rowCount === 1;

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('expiry', () => {
  it('reads an expired secret as missing, leaves it out of lists, and the expiry pass deletes it', async () => {
    const secrets = secretsClient(ty);
    await secrets.set('expiring/soon', { secret: { v: 'short-lived' }, expires: fromClock(ty, 5 * 60_000) });
    await secrets.set('expiring/later', {
      secret: { v: 'long-lived' },
      expires: fromClock(ty, 30 * 86400e3),
    });
    expect((await secrets.get('expiring/soon')).secret).toEqual({ v: 'short-lived' });

    // Within Hawk's 15 minutes of clock skew, so the client's requests still authenticate.
    ty.clock.advance(10 * 60_000);
    try {
      await expiredAndDeleted();
    } finally {
      ty.clock.advance(-10 * 60_000);
    }
  });

  async function expiredAndDeleted(): Promise<void> {
    const secrets = secretsClient(ty);
    const err = await rejection(secrets.get('expiring/soon'));
    expect(err.statusCode).toBe(404);
    expect(err.message).toMatch(/^Secret not found/);
    const listed = (await secrets.list()).secrets;
    expect(listed).not.toContain('expiring/soon');
    expect(listed).toContain('expiring/later');
    expect(await rowExists('expiring/soon')).toBe(true);

    expect(await expireSecrets(ty.testDb.db, ty.clock.now)).toEqual(['expiring/soon']);
    expect(await rowExists('expiring/soon')).toBe(false);
    expect((await secrets.get('expiring/later')).secret).toEqual({ v: 'long-lived' });
    expect(await expireSecrets(ty.testDb.db, ty.clock.now)).toEqual([]);
  }

  it('accepts a set with an expiry already past, as upstream does, and never returns it', async () => {
    const secrets = secretsClient(ty);
    await secrets.set('expiring/already', { secret: { v: 1 }, expires: fromClock(ty, -60_000) });
    expect((await rejection(secrets.get('expiring/already'))).statusCode).toBe(404);
    // Setting it again with a future expiry makes it readable again.
    await secrets.set('expiring/already', { secret: { v: 2 }, expires: fromClock(ty, 60_000) });
    expect((await secrets.get('expiring/already')).secret).toEqual({ v: 2 });
  });

  it('deletes expired secrets in the background when a Taskyard starts with background loops', async () => {
    await secretsClient(ty).set('expiring/background', { secret: {}, expires: fromClock(ty, -1000) });
    const withLoops = await startTestTaskyard({
      services: ['secrets'],
      database: ty.testDb,
      realClock: true,
    });
    try {
      await waitFor(async () => !(await rowExists('expiring/background')), 'the expiry loop');
    } finally {
      await withLoops.stop();
    }
  });

  it('runs the maintenance loop on its interval until stopped', async () => {
    const keyring = new SecretsKeyring(ty.config.secretsKey);
    const stop = startSecretsMaintenance(
      ty.testDb.db,
      keyring,
      pino({ level: 'silent' }),
      () => ty.clock.now,
      20,
    );
    try {
      await sleep(50);
      await secretsClient(ty).set('expiring/tick', { secret: {}, expires: fromClock(ty, -1000) });
      await waitFor(async () => !(await rowExists('expiring/tick')), 'a later tick');
    } finally {
      await stop();
    }
    await secretsClient(ty).set('expiring/after-stop', { secret: {}, expires: fromClock(ty, -1000) });
    await sleep(100);
    expect(await rowExists('expiring/after-stop')).toBe(true);
  });
});
