import type { Logger } from 'pino';
import type { Database } from '../../platform/db/index.ts';
import { startPeriodic } from '../../platform/periodic.ts';
import * as db from './db.ts';
import type { SecretsKeyring } from './keyring.ts';

/** Rows handled per transaction, so a large table never holds one long lock. */
const BATCH = 500;

/**
 * Deletes every secret expired before `now`; returns their names. Safe to run in several
 * processes at once (each batch locks its rows, skipping those another process holds).
 */
export async function expireSecrets(database: Database, now: Date): Promise<string[]> {
  const deleted: string[] = [];
  for (;;) {
    const batch = await db.deleteExpiredSecrets(database, now, BATCH);
    deleted.push(...batch);
    if (batch.length < BATCH) return deleted;
  }
}

/**
 * Re-encrypts with secretsKey every secret still encrypted with secretsKeyOld; returns how many.
 * A value that does not decrypt is left as it is (and logged): it stays unreadable either way.
 */
export async function reencryptSecrets(
  database: Database,
  keyring: SecretsKeyring,
  logger: Logger,
): Promise<number> {
  const oldKeyId = keyring.oldKeyId;
  if (!oldKeyId) return 0;
  let done = 0;
  const failed = new Set<string>();
  for (;;) {
    const resealed = await database.transaction(async (tx) => {
      // Room for the ones that failed before, so they never crowd out the rest.
      const rows = await db.lockSecretsUnderKey(tx, oldKeyId, BATCH + failed.size);
      let resealed = 0;
      for (const row of rows) {
        if (failed.has(row.name)) continue;
        let value: unknown;
        try {
          value = keyring.open(row.name, row);
        } catch (err) {
          failed.add(row.name);
          logger.error(
            { err, secret: row.name },
            'a secret does not decrypt with secretsKeyOld; left as it is',
          );
          continue;
        }
        if (await db.resealSecret(tx, row.name, row, keyring.seal(row.name, value))) resealed++;
      }
      return resealed;
    });
    done += resealed;
    if (resealed === 0) return done;
  }
}

/** Logs what a key rotation has left to do: secrets under secretsKeyOld, or under a key now unknown. */
export async function reportKeys(database: Database, keyring: SecretsKeyring, logger: Logger): Promise<void> {
  const others = await db.countOtherKeys(database, keyring.currentKeyId);
  for (const [keyId, count] of others) {
    if (keyId === keyring.oldKeyId) {
      logger.info(
        { count },
        'secrets still encrypted with secretsKeyOld; they are re-encrypted in the background',
      );
    } else {
      logger.error(
        { count, keyId },
        'secrets are encrypted with a key that is neither secretsKey nor secretsKeyOld: they cannot be read ' +
          'until that key is configured as secretsKeyOld (TASKYARD_SECRETS_KEY_OLD)',
      );
    }
  }
  if (keyring.oldKeyId && !others.has(keyring.oldKeyId)) {
    logger.info(
      'no secret is encrypted with secretsKeyOld any more: it can be removed from the configuration',
    );
  }
}

/** One background pass: expiry, then re-encryption of what secretsKeyOld still holds. */
export async function secretsMaintenancePass(
  database: Database,
  keyring: SecretsKeyring,
  logger: Logger,
  now: Date,
): Promise<{ expired: string[]; reencrypted: number }> {
  const expired = await expireSecrets(database, now);
  if (expired.length) logger.info({ secrets: expired, action: 'expired' }, 'deleted expired secrets');
  const reencrypted = await reencryptSecrets(database, keyring, logger);
  if (reencrypted) {
    logger.info({ count: reencrypted }, 're-encrypted secrets from secretsKeyOld to secretsKey');
    await reportKeys(database, keyring, logger);
  }
  return { expired, reencrypted };
}

/** Runs the maintenance pass now and then every `intervalMs`; the returned function stops it. */
export function startSecretsMaintenance(
  database: Database,
  keyring: SecretsKeyring,
  logger: Logger,
  now: () => Date,
  intervalMs = 10 * 60 * 1000,
): () => Promise<void> {
  return startPeriodic({
    name: 'secrets maintenance',
    intervalMs,
    logger,
    pass: () => secretsMaintenancePass(database, keyring, logger, now()),
  });
}
