import type { StaticClient } from '../../platform/config.ts';
import type { Database } from '../../platform/db/index.ts';
import * as db from './db.ts';
import { AuthState } from './state.ts';
import type { TokenCipher } from './token-crypto.ts';

const FOREVER = new Date('3000-01-01T00:00:00.000Z');

/**
 * Makes the `static/` clients in the database exactly those of the configuration: new ones are
 * added, changed ones updated, and static clients no longer configured are deleted. Safe when
 * several processes start at once (one advisory lock serializes them).
 */
export async function syncStaticClients(
  database: Database,
  cipher: TokenCipher,
  clients: StaticClient[],
  now: Date,
): Promise<void> {
  for (const c of clients) {
    if (!c.clientId.startsWith('static/')) {
      throw new Error(`static client "${c.clientId}" must have a clientId starting with "static/"`);
    }
  }
  await database.transaction(async (tx) => {
    await tx.query("select pg_advisory_xact_lock(hashtext('taskyard:static-clients'))");
    const existing = await tx.query<{ clientId: string }>(
      `select client_id as "clientId" from auth_clients where client_id like 'static/%'`,
    );
    const wanted = new Set(clients.map((c) => c.clientId));
    for (const { clientId } of existing.rows) {
      if (!wanted.has(clientId)) await db.deleteClient(tx, clientId);
    }
    for (const c of clients) {
      const row: db.ClientRow = {
        clientId: c.clientId,
        description:
          `${c.description ?? ''}\n\n(A static client, set in the deployment's configuration.)`.trim(),
        encryptedAccessToken: cipher.encrypt(c.accessToken),
        scopes: c.scopes,
        expires: FOREVER,
        disabled: false,
        deleteOnExpiration: false,
        created: now,
        lastModified: now,
        lastDateUsed: now,
        lastRotated: now,
        isStatic: true,
      };
      if (!(await db.insertClient(tx, row))) {
        await db.updateClient(
          tx,
          c.clientId,
          {
            description: row.description,
            scopes: c.scopes,
            encryptedAccessToken: row.encryptedAccessToken,
            expires: FOREVER,
            disabled: false,
          },
          now,
        );
      }
      await AuthState.announce(tx, `client:${c.clientId}`);
    }
  });
}
