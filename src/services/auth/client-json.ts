import type { ClientRow } from './db.ts';

/** A client as the API shows it (without its access token). */
export function clientJson(row: ClientRow, expandedScopes: string[]) {
  return {
    clientId: row.clientId,
    description: row.description,
    expires: row.expires.toJSON(),
    disabled: row.disabled,
    created: row.created.toJSON(),
    lastModified: row.lastModified.toJSON(),
    lastDateUsed: row.lastDateUsed.toJSON(),
    lastRotated: row.lastRotated.toJSON(),
    deleteOnExpiration: row.deleteOnExpiration,
    scopes: row.scopes,
    expandedScopes,
  };
}
