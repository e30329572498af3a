import type { Queryable } from '../../platform/db/index.ts';

export type { Queryable };

export interface ClientRow {
  clientId: string;
  description: string;
  encryptedAccessToken: Buffer;
  scopes: string[];
  expires: Date;
  disabled: boolean;
  deleteOnExpiration: boolean;
  created: Date;
  lastModified: Date;
  lastDateUsed: Date;
  lastRotated: Date;
  isStatic: boolean;
}

export interface RoleRow {
  roleId: string;
  description: string;
  scopes: string[];
  created: Date;
  lastModified: Date;
}

const clientColumns = `client_id as "clientId", description, encrypted_access_token as "encryptedAccessToken",
  scopes, expires, disabled, delete_on_expiration as "deleteOnExpiration", created,
  last_modified as "lastModified", last_date_used as "lastDateUsed", last_rotated as "lastRotated",
  is_static as "isStatic"`;
const roleColumns = `role_id as "roleId", description, scopes, created, last_modified as "lastModified"`;

export async function getClient(
  q: Queryable,
  clientId: string,
  forUpdate = false,
): Promise<ClientRow | undefined> {
  const res = await q.query<ClientRow>(
    `select ${clientColumns} from auth_clients where client_id = $1${forUpdate ? ' for update' : ''}`,
    [clientId],
  );
  return res.rows[0];
}

export async function listClients(
  q: Queryable,
  opts: { prefix?: string; after?: string; limit: number },
): Promise<ClientRow[]> {
  // Prefix match by range, not LIKE, so `%` and `_` in a prefix are plain characters.
  const res = await q.query<ClientRow>(
    `select ${clientColumns} from auth_clients
     where ($1::text is null or (client_id >= $1 and left(client_id, length($1)) = $1))
       and ($2::text is null or client_id > $2)
     order by client_id collate "C" limit $3`,
    [opts.prefix ?? null, opts.after ?? null, opts.limit],
  );
  return res.rows;
}

/** Inserts a client; returns false (and writes nothing) when the clientId is taken. */
export async function insertClient(q: Queryable, c: ClientRow): Promise<boolean> {
  const res = await q.query(
    `insert into auth_clients (client_id, description, encrypted_access_token, scopes, expires, disabled,
       delete_on_expiration, created, last_modified, last_date_used, last_rotated, is_static)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     on conflict (client_id) do nothing`,
    [
      c.clientId,
      c.description,
      c.encryptedAccessToken,
      JSON.stringify(c.scopes),
      c.expires,
      c.disabled,
      c.deleteOnExpiration,
      c.created,
      c.lastModified,
      c.lastDateUsed,
      c.lastRotated,
      c.isStatic,
    ],
  );
  return res.rowCount === 1;
}

export async function updateClient(
  q: Queryable,
  clientId: string,
  fields: Partial<
    Pick<
      ClientRow,
      | 'description'
      | 'scopes'
      | 'expires'
      | 'disabled'
      | 'deleteOnExpiration'
      | 'encryptedAccessToken'
      | 'lastRotated'
    >
  >,
  now: Date,
): Promise<void> {
  await q.query(
    `update auth_clients set
       description = coalesce($2, description),
       scopes = coalesce($3::jsonb, scopes),
       expires = coalesce($4, expires),
       disabled = coalesce($5, disabled),
       delete_on_expiration = coalesce($6, delete_on_expiration),
       encrypted_access_token = coalesce($7, encrypted_access_token),
       last_rotated = coalesce($8, last_rotated),
       last_modified = $9
     where client_id = $1`,
    [
      clientId,
      fields.description ?? null,
      fields.scopes ? JSON.stringify(fields.scopes) : null,
      fields.expires ?? null,
      fields.disabled ?? null,
      fields.deleteOnExpiration ?? null,
      fields.encryptedAccessToken ?? null,
      fields.lastRotated ?? null,
      now,
    ],
  );
}

export async function deleteClient(q: Queryable, clientId: string): Promise<boolean> {
  const res = await q.query('delete from auth_clients where client_id = $1', [clientId]);
  return res.rowCount === 1;
}

/** Records use at most once per `granularityMs`, so a busy client costs no write per request. */
export async function touchClientUsed(q: Queryable, clientId: string, now: Date, granularityMs: number) {
  await q.query(
    `update auth_clients set last_date_used = $2
     where client_id = $1 and last_date_used < $2::timestamptz - make_interval(secs => $3)`,
    [clientId, now, granularityMs / 1000],
  );
}

/** Deletes clients past `expires` that asked for it; returns their ids. */
export async function deleteExpiredClients(q: Queryable, now: Date): Promise<string[]> {
  const res = await q.query<{ clientId: string }>(
    `delete from auth_clients where delete_on_expiration and expires < $1 and not is_static
     returning client_id as "clientId"`,
    [now],
  );
  return res.rows.map((r) => r.clientId);
}

export async function getRole(q: Queryable, roleId: string, forUpdate = false): Promise<RoleRow | undefined> {
  const res = await q.query<RoleRow>(
    `select ${roleColumns} from auth_roles where role_id = $1${forUpdate ? ' for update' : ''}`,
    [roleId],
  );
  return res.rows[0];
}

export async function listRoles(
  q: Queryable,
  opts: { after?: string; limit?: number } = {},
): Promise<RoleRow[]> {
  const res = await q.query<RoleRow>(
    `select ${roleColumns} from auth_roles where ($1::text is null or role_id > $1)
     order by role_id collate "C" limit $2`,
    [opts.after ?? null, opts.limit ?? null],
  );
  return res.rows;
}

export async function insertRole(q: Queryable, r: RoleRow): Promise<boolean> {
  const res = await q.query(
    `insert into auth_roles (role_id, description, scopes, created, last_modified) values ($1, $2, $3, $4, $5)
     on conflict (role_id) do nothing`,
    [r.roleId, r.description, JSON.stringify(r.scopes), r.created, r.lastModified],
  );
  return res.rowCount === 1;
}

export async function updateRole(
  q: Queryable,
  roleId: string,
  description: string,
  scopes: string[],
  now: Date,
) {
  await q.query(
    'update auth_roles set description = $2, scopes = $3, last_modified = $4 where role_id = $1',
    [roleId, description, JSON.stringify(scopes), now],
  );
}

export async function deleteRole(q: Queryable, roleId: string): Promise<boolean> {
  const res = await q.query('delete from auth_roles where role_id = $1', [roleId]);
  return res.rowCount === 1;
}

export type EntityType = 'client' | 'role';

export async function recordAudit(
  q: Queryable,
  entityType: EntityType,
  entityId: string,
  clientId: string,
  action: string,
  now: Date,
): Promise<void> {
  await q.query(
    'insert into auth_audit_history (entity_type, entity_id, client_id, action_type, created) values ($1, $2, $3, $4, $5)',
    [entityType, entityId, clientId, action, now],
  );
}

export async function listAudit(
  q: Queryable,
  entityType: EntityType,
  entityId: string,
  opts: { afterId?: number; limit: number },
): Promise<Array<{ id: number; clientId: string; action: string; created: Date }>> {
  const res = await q.query<{ id: string; clientId: string; action: string; created: Date }>(
    `select id, client_id as "clientId", action_type as action, created from auth_audit_history
     where entity_type = $1 and entity_id = $2 and ($3::bigint is null or id > $3)
     order by id limit $4`,
    [entityType, entityId, opts.afterId ?? null, opts.limit],
  );
  return res.rows.map((r) => ({ ...r, id: Number(r.id) }));
}
