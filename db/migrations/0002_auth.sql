-- The auth service: clients, roles and the audit history of changes to both.
create table auth_clients (
  client_id text primary key,
  description text not null,
  -- AES-256-GCM of the access token (iv | tag | ciphertext); Hawk needs the token itself to
  -- check signatures, so it is encrypted rather than hashed.
  encrypted_access_token bytea not null,
  scopes jsonb not null,
  expires timestamptz not null,
  disabled boolean not null default false,
  delete_on_expiration boolean not null default false,
  created timestamptz not null,
  last_modified timestamptz not null,
  last_date_used timestamptz not null,
  last_rotated timestamptz not null,
  -- Static clients come from configuration and cannot be changed through the API.
  is_static boolean not null default false
);

create table auth_roles (
  role_id text primary key,
  description text not null,
  scopes jsonb not null,
  created timestamptz not null,
  last_modified timestamptz not null
);

create table auth_audit_history (
  id bigserial primary key,
  entity_type text not null check (entity_type in ('client', 'role')),
  entity_id text not null,
  client_id text not null,
  action_type text not null,
  created timestamptz not null default now()
);
create index auth_audit_history_entity on auth_audit_history (entity_type, entity_id, id);
create index auth_audit_history_actor on auth_audit_history (client_id, id);
