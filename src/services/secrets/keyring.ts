import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ConfigError } from '../../platform/config.ts';

/** A value as stored: which key encrypted it, and IV | tag | ciphertext. */
export interface Sealed {
  keyId: string;
  blob: Buffer;
}

/** A stored value whose key is not configured (rotated away without setting secretsKeyOld). */
export class UnknownKeyError extends Error {
  override name = 'UnknownKeyError';
}

interface Key {
  id: string;
  bytes: Buffer;
}

function parseKey(base64: string, setting: string, env: string): Key {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length !== 32 || bytes.toString('base64') !== base64) {
    throw new ConfigError(
      `setting "${setting}" (${env}) must be base64 of 32 random bytes, e.g. from \`openssl rand -base64 32\``,
    );
  }
  return { id: keyId(bytes), bytes };
}

/** A key's public name: a truncated hash, so rows can say which key sealed them without revealing it. */
export function keyId(bytes: Buffer): string {
  return createHash('sha256').update('taskyard secrets key\0').update(bytes).digest('hex').slice(0, 16);
}

/**
 * The secrets' encryption at rest: AES-256-GCM under `secretsKey`, with the secret's name as
 * additional authenticated data. During a rotation `secretsKeyOld` still decrypts values it sealed;
 * new values are always sealed with `secretsKey`.
 */
export class SecretsKeyring {
  private readonly current: Key;
  private readonly old: Key | undefined;

  constructor(secretsKey: string | undefined, secretsKeyOld?: string) {
    if (!secretsKey) {
      throw new ConfigError(
        'setting "secretsKey" (TASKYARD_SECRETS_KEY) is required to run the secrets service: ' +
          'base64 of 32 random bytes, e.g. from `openssl rand -base64 32`; keep it, it decrypts the stored secrets',
      );
    }
    this.current = parseKey(secretsKey, 'secretsKey', 'TASKYARD_SECRETS_KEY');
    const old = secretsKeyOld
      ? parseKey(secretsKeyOld, 'secretsKeyOld', 'TASKYARD_SECRETS_KEY_OLD')
      : undefined;
    this.old = old && old.id !== this.current.id ? old : undefined;
  }

  /** The id of the key new values are sealed with. */
  get currentKeyId(): string {
    return this.current.id;
  }

  /** The id of secretsKeyOld, when one is configured (and differs from secretsKey). */
  get oldKeyId(): string | undefined {
    return this.old?.id;
  }

  /** Seals a JSON value for the secret `name`. */
  seal(name: string, value: unknown): Sealed {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.bytes, iv);
    cipher.setAAD(Buffer.from(name, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return { keyId: this.current.id, blob: Buffer.concat([iv, cipher.getAuthTag(), body]) };
  }

  /**
   * The JSON value sealed for `name`. Throws UnknownKeyError when its key is not configured, and
   * an Error when it does not decrypt (altered, or moved from another name).
   */
  open(name: string, sealed: Sealed): unknown {
    const key = [this.current, this.old].find((k) => k?.id === sealed.keyId);
    if (!key) {
      throw new UnknownKeyError(
        `secret ${JSON.stringify(name)} is encrypted with key ${sealed.keyId}, which is neither secretsKey ` +
          `(${this.current.id}) nor secretsKeyOld${this.old ? ` (${this.old.id})` : ' (not set)'}`,
      );
    }
    const { blob } = sealed;
    const decipher = createDecipheriv('aes-256-gcm', key.bytes, blob.subarray(0, 12));
    decipher.setAAD(Buffer.from(name, 'utf8'));
    decipher.setAuthTag(blob.subarray(12, 28));
    let text: string;
    try {
      text = Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new Error(`secret ${JSON.stringify(name)} does not decrypt: its stored value was altered`, {
        cause: err,
      });
    }
    return JSON.parse(text);
  }
}
