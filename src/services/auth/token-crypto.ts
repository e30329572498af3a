import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import slugid from 'slugid';

/**
 * Access tokens at rest: AES-256-GCM under the deployment's key. Hawk verifies signatures with
 * the token itself, so a one-way hash cannot work; a database dump without the key is useless.
 * Layout: 12-byte IV | 16-byte tag | ciphertext.
 */
export class TokenCipher {
  private readonly key: Buffer;

  constructor(base64Key: string) {
    this.key = Buffer.from(base64Key, 'base64');
    if (this.key.length !== 32) throw new Error('the access token key must be 32 bytes, base64-encoded');
  }

  static generateKey(): string {
    return randomBytes(32).toString('base64');
  }

  encrypt(token: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  decrypt(blob: Buffer): string {
    const decipher = createDecipheriv('aes-256-gcm', this.key, blob.subarray(0, 12));
    decipher.setAuthTag(blob.subarray(12, 28));
    return Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString('utf8');
  }
}

/** A new access token: two v4 slugids, 44 URL-safe characters, 244 random bits. */
export const newAccessToken = (): string => slugid.v4() + slugid.v4();
