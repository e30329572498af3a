import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireNotifyData } from '../../../src/services/notify/db.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';

describe('notify expiry', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => t?.drop());

  it('deletes send marks past their expiry and rate-limit rows older than the window, and nothing else', async () => {
    const now = new Date('2026-06-01T12:00:00Z');
    const minutes = (n: number) => new Date(now.getTime() + n * 60_000);
    await t.db.query(
      `insert into notify_sends (send_key, state, claimed_at, expires) values
         ('task/old/0/x/r', 'sent', $1, $2), ('task/new/0/x/r', 'sent', $1, $3), ('group/g/1/r', 'dropped', $1, $2)`,
      [minutes(-120), minutes(-1), minutes(60)],
    );
    // A 10-minute window: what was sent 11 minutes ago no longer counts, 9 minutes ago still does.
    await t.db.query(
      `insert into notify_email_sends (address, sent_at) values
         ('a@example.com', $1), ('a@example.com', $2), ('b@example.com', $1)`,
      [minutes(-11), minutes(-9)],
    );
    const counts = await expireNotifyData(t.db, now, 10 * 60_000);
    expect(counts).toEqual({ sends: 2, emailSends: 2 });
    const sends = await t.db.query<{ key: string }>('select send_key as key from notify_sends order by 1');
    expect(sends.rows.map((r) => r.key)).toEqual(['task/new/0/x/r']);
    const emails = await t.db.query<{ address: string; sentAt: Date }>(
      'select address, sent_at as "sentAt" from notify_email_sends',
    );
    expect(emails.rows).toEqual([{ address: 'a@example.com', sentAt: minutes(-9) }]);
    // A second pass finds nothing more.
    expect(await expireNotifyData(t.db, now, 10 * 60_000)).toEqual({ sends: 0, emailSends: 0 });
  });
});
