import type { Queryable } from '../../platform/db/index.ts';
import type { Sealed } from './keyring.ts';

export interface SecretRow extends Sealed {
  name: string;
  expires: Date;
}

const columns = 'name, encrypted_value as "blob", key_id as "keyId", expires';

/** The secret, unless it is missing or expired at `now`. */
export async function getSecret(q: Queryable, name: string, now: Date): Promise<SecretRow | undefined> {
  const res = await q.query<SecretRow>(`select ${columns} from secrets where name = $1 and expires >= $2`, [
    name,
    now,
  ]);
  return res.rows[0];
}

/** Creates or replaces a secret; true when it was created. */
export async function upsertSecret(
  q: Queryable,
  name: string,
  sealed: Sealed,
  expires: Date,
): Promise<boolean> {
  const res = await q.query<{ created: boolean }>(
    `insert into secrets (name, encrypted_value, key_id, expires) values ($1, $2, $3, $4)
     on conflict (name) do update set encrypted_value = $2, key_id = $3, expires = $4
     returning (xmax = 0) as created`,
    [name, sealed.blob, sealed.keyId, expires],
  );
  return res.rows[0].created;
}

/** Deletes a secret; true when there was one. */
export async function deleteSecret(q: Queryable, name: string): Promise<boolean> {
  const res = await q.query('delete from secrets where name = $1', [name]);
  return (res.rowCount ?? 0) > 0;
}

/** Names of the secrets not expired at `now`, in byte order, after `after`. */
export async function listSecretNames(
  q: Queryable,
  opts: { now: Date; after?: string; limit: number },
): Promise<string[]> {
  const res = await q.query<{ name: string }>(
    `select name from secrets where expires >= $1 and ($2::text is null or name > $2)
     order by name limit $3`,
    [opts.now, opts.after ?? null, opts.limit],
  );
  return res.rows.map((r) => r.name);
}

/**
 * Replaces a value with one sealed under another key, if it is still the value `from` (a set in
 * between wins). True when replaced.
 */
export async function resealSecret(q: Queryable, name: string, from: Sealed, to: Sealed): Promise<boolean> {
  const res = await q.query(
    `update secrets set encrypted_value = $4, key_id = $5
     where name = $1 and key_id = $2 and encrypted_value = $3`,
    [name, from.keyId, from.blob, to.blob, to.keyId],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Locks and returns up to `limit` secrets sealed under the key `keyId` (skipping locked ones). */
export async function lockSecretsUnderKey(q: Queryable, keyId: string, limit: number): Promise<SecretRow[]> {
  const res = await q.query<SecretRow>(
    `select ${columns} from secrets where key_id = $1 order by name limit $2 for update skip locked`,
    [keyId, limit],
  );
  return res.rows;
}

/** How many secrets are sealed under each key other than `currentKeyId`. */
export async function countOtherKeys(q: Queryable, currentKeyId: string): Promise<Map<string, number>> {
  const res = await q.query<{ keyId: string; n: string }>(
    'select key_id as "keyId", count(*) as n from secrets where key_id <> $1 group by key_id',
    [currentKeyId],
  );
  return new Map(res.rows.map((r) => [r.keyId, Number(r.n)]));
}

/** Deletes up to `limit` secrets expired before `now`; returns their names. */
export async function deleteExpiredSecrets(q: Queryable, now: Date, limit: number): Promise<string[]> {
  const res = await q.query<{ name: string }>(
    `delete from secrets where name in (
       select name from secrets where expires < $1 order by expires limit $2 for update skip locked)
     returning name`,
    [now, limit],
  );
  return res.rows.map((r) => r.name);
}
