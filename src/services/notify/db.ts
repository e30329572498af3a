/** The notify service's SQL: denylist, sends (dedupe records), email rate limit, expiry. */
import type { Database, Queryable } from '../../platform/db/index.ts';

export interface DenylistRow {
  notificationType: string;
  notificationAddress: string;
}

export async function isDenied(q: Queryable, type: string, address: string): Promise<boolean> {
  const res = await q.query(
    'select 1 from notify_denylist where notification_type = $1 and notification_address = $2',
    [type, address],
  );
  return (res.rowCount ?? 0) > 0;
}

export async function addDenylistAddress(q: Queryable, type: string, address: string): Promise<void> {
  await q.query(
    `insert into notify_denylist (notification_type, notification_address) values ($1, $2)
     on conflict do nothing`,
    [type, address],
  );
}

export async function deleteDenylistAddress(q: Queryable, type: string, address: string): Promise<void> {
  await q.query('delete from notify_denylist where notification_type = $1 and notification_address = $2', [
    type,
    address,
  ]);
}

/** Denylisted addresses by (type, address), after the given position. */
export async function listDenylist(
  q: Queryable,
  after: { type: string; address: string } | undefined,
  limit: number,
): Promise<DenylistRow[]> {
  const res = await q.query<DenylistRow>(
    `select notification_type as "notificationType", notification_address as "notificationAddress"
     from notify_denylist
     where $1::text is null or (notification_type, notification_address) > ($1, $2)
     order by notification_type, notification_address
     limit $3`,
    [after?.type ?? null, after?.address ?? null, limit],
  );
  return res.rows;
}

export type ClaimResult = 'claimed' | 'done' | 'busy';

/**
 * Claims a send: a new key, or one whose claim is older than `leaseMs` (its sender died). `done`:
 * it was sent (or dropped) already; `busy`: another process is sending it right now.
 */
export async function claimSend(
  q: Queryable,
  key: string,
  expires: Date,
  now: Date,
  leaseMs: number,
): Promise<ClaimResult> {
  const res = await q.query<{ state: string; claimed: boolean }>(
    `insert into notify_sends (send_key, state, claimed_at, expires) values ($1, 'sending', $2, $3)
     on conflict (send_key) do update set claimed_at = excluded.claimed_at
       where notify_sends.state = 'sending' and notify_sends.claimed_at < $4
     returning state`,
    [key, now, expires, new Date(now.getTime() - leaseMs)],
  );
  if ((res.rowCount ?? 0) > 0) return 'claimed';
  const existing = await q.query<{ state: string }>('select state from notify_sends where send_key = $1', [
    key,
  ]);
  const state = existing.rows[0]?.state;
  if (state === undefined) return 'busy'; // expired between the two statements: try again later
  return state === 'sending' ? 'busy' : 'done';
}

/** Records the final outcome of a claimed send. */
export async function finishSend(
  q: Queryable,
  key: string,
  state: 'sent' | 'dropped' | 'failed',
  detail: string | null,
): Promise<void> {
  await q.query('update notify_sends set state = $2, detail = $3 where send_key = $1', [key, state, detail]);
}

/** Forgets a claim whose send failed for a reason that may pass: the redelivered event tries again. */
export async function releaseSend(q: Queryable, key: string): Promise<void> {
  await q.query(`delete from notify_sends where send_key = $1 and state = 'sending'`, [key]);
}

/** Records a send done inside the caller's transaction; false when it was recorded before. */
export async function recordSendOnce(
  q: Queryable,
  key: string,
  expires: Date,
  now: Date,
  state: 'sent' | 'dropped',
  detail: string | null,
): Promise<boolean> {
  const res = await q.query(
    `insert into notify_sends (send_key, state, detail, claimed_at, expires) values ($1, $2, $3, $4, $5)
     on conflict do nothing`,
    [key, state, detail, now, expires],
  );
  return (res.rowCount ?? 0) > 0;
}

export async function sendState(
  q: Queryable,
  key: string,
): Promise<{ state: string; detail: string | null } | undefined> {
  const res = await q.query<{ state: string; detail: string | null }>(
    'select state, detail from notify_sends where send_key = $1',
    [key],
  );
  return res.rows[0];
}

/**
 * Reserves one email to `address` unless `limit` were sent in the window ending at `now`:
 * the reservation's id, or undefined when over the limit. Serialized per address (advisory
 * lock), so concurrent processes never exceed the limit together.
 */
export async function reserveEmail(
  db: Database,
  address: string,
  now: Date,
  limit: number,
  windowMs: number,
): Promise<string | undefined> {
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [`notify-email:${address}`]);
    const res = await tx.query<{ n: number }>(
      'select count(*)::int as n from notify_email_sends where address = $1 and sent_at > $2',
      [address, new Date(now.getTime() - windowMs)],
    );
    if ((res.rows[0]?.n ?? 0) >= limit) return undefined;
    const ins = await tx.query<{ id: string }>(
      'insert into notify_email_sends (address, sent_at) values ($1, $2) returning id',
      [address, now],
    );
    return ins.rows[0].id;
  });
}

/** Gives back a reservation whose email was not sent. */
export async function cancelEmailReservation(q: Queryable, id: string): Promise<void> {
  await q.query('delete from notify_email_sends where id = $1', [id]);
}

/** Rows removed per statement, so expiry never holds long locks. */
const BATCH = 1000;

export interface ExpiryCounts {
  sends: number;
  emailSends: number;
}

/** Deletes send records past their expiry and rate-limit rows out of the window. */
export async function expireNotifyData(db: Database, now: Date, windowMs: number): Promise<ExpiryCounts> {
  const counts: ExpiryCounts = { sends: 0, emailSends: 0 };
  for (;;) {
    const res = await db.query(
      `delete from notify_sends where send_key in (
         select send_key from notify_sends where expires < $1 limit ${BATCH} for update skip locked)`,
      [now],
    );
    counts.sends += res.rowCount ?? 0;
    if ((res.rowCount ?? 0) < BATCH) break;
  }
  for (;;) {
    const res = await db.query(
      `delete from notify_email_sends where id in (
         select id from notify_email_sends where sent_at < $1 limit ${BATCH} for update skip locked)`,
      [new Date(now.getTime() - windowMs)],
    );
    counts.emailSends += res.rowCount ?? 0;
    if ((res.rowCount ?? 0) < BATCH) break;
  }
  return counts;
}
