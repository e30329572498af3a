/**
 * Blob keys. Callers build keys from task ids, run ids and artifact names (`<taskId>/<runId>/<name>`),
 * and artifact names come from users, so every store checks every key before using it: a key is
 * a relative, `/`-separated path with no way to climb out of the store's root, whether that root
 * is a directory or an S3 prefix. The rules are the same for both stores, so a key that works in
 * embedded mode works at scale too.
 */

/** S3's own limit on an object key; the filesystem store holds to it as well, to behave alike. */
export const MAX_BLOB_KEY_BYTES = 1024;

export class InvalidBlobKeyError extends Error {
  readonly key: string;

  constructor(key: string, reason: string) {
    super(`invalid blob key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidBlobKeyError';
    this.key = key;
  }
}

// C0 and C1 control characters (NUL included) and DEL: they have no business in a name, and
// newlines would let a key forge the line structure of what we sign.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// In `u` mode this matches only unpaired surrogates, which cannot be encoded as UTF-8.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** Throws InvalidBlobKeyError unless `key` is a safe relative key; returns it otherwise. */
export function assertValidBlobKey(key: string): string {
  if (typeof key !== 'string') throw new InvalidBlobKeyError(String(key), 'a key must be a string');
  if (key.length === 0) throw new InvalidBlobKeyError(key, 'a key must not be empty');
  if (CONTROL.test(key)) {
    throw new InvalidBlobKeyError(key, 'a key must not contain NUL or other control characters');
  }
  if (LONE_SURROGATE.test(key)) throw new InvalidBlobKeyError(key, 'a key must be valid Unicode');
  if (key.includes('\\')) throw new InvalidBlobKeyError(key, 'a key must not contain backslashes');
  if (key.startsWith('/')) throw new InvalidBlobKeyError(key, 'a key must be relative (no leading "/")');
  if (Buffer.byteLength(key, 'utf8') > MAX_BLOB_KEY_BYTES) {
    throw new InvalidBlobKeyError(key, `a key must be at most ${MAX_BLOB_KEY_BYTES} bytes of UTF-8`);
  }
  for (const segment of key.split('/')) {
    if (segment === '') {
      throw new InvalidBlobKeyError(key, 'a key must not have empty segments ("//" or a trailing "/")');
    }
    if (segment === '.' || segment === '..') {
      throw new InvalidBlobKeyError(key, `a key must not have "${segment}" segments`);
    }
  }
  return key;
}

/** The key as a URL path: each segment percent-encoded, the separators kept. */
export function encodeBlobKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** Content types travel in headers and in what we sign: a readable, single-line string. */
export function assertValidContentType(contentType: string): string {
  if (typeof contentType !== 'string' || contentType.trim() === '' || contentType.length > 1024) {
    throw new TypeError(`invalid content type ${JSON.stringify(contentType)}: must be 1 to 1024 characters`);
  }
  if (CONTROL.test(contentType) || LONE_SURROGATE.test(contentType) || /[^\u0020-\u007e]/.test(contentType)) {
    throw new TypeError(`invalid content type ${JSON.stringify(contentType)}: must be printable ASCII`);
  }
  return contentType;
}
