-- The secrets service: named JSON values, encrypted at rest, that stop being readable when they
-- expire (and are deleted some time after).
create table secrets (
  -- Byte order ("C") so that pages of names and their continuation compare alike everywhere.
  name text collate "C" primary key,
  -- AES-256-GCM of the JSON value under the key named by key_id (12-byte IV | 16-byte tag |
  -- ciphertext), with the name as additional data: a value copied to another row does not decrypt.
  encrypted_value bytea not null,
  -- Fingerprint of the key that encrypted the value (secretsKey, or secretsKeyOld in a rotation).
  key_id text not null,
  expires timestamptz not null
);
create index secrets_expires on secrets (expires);
create index secrets_key_id on secrets (key_id);
