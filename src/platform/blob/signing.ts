/**
 * Signed URLs for the filesystem store. Taskyard serves the bytes itself in embedded mode, so it
 * needs what S3's presigned URLs give at scale: a URL that grants one operation on one key until
 * a deadline, checkable without a database. An HMAC-SHA256 over the method, key, deadline and
 * (for uploads) the content type and length does that; the secret never leaves the process.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedRequest {
  method: 'GET' | 'PUT';
  key: string;
  /** Unix seconds after which the URL is refused. */
  expires: number;
  /** PUT only: the content type the client must send. */
  contentType?: string;
  /** PUT only, optional: the exact number of bytes the client must send. */
  contentLength?: number;
}

// A version tag, so a later change of what is signed cannot accept URLs made under the old rules.
const DOMAIN = 'taskyard-blob-v1';

// Fields are joined with newlines; keys and content types are checked to hold no control
// characters, so no field can smuggle in a separator and make two requests sign alike.
function stringToSign(req: SignedRequest): string {
  return [
    DOMAIN,
    req.method,
    req.key,
    String(req.expires),
    req.method === 'PUT' ? (req.contentType ?? '') : '',
    req.method === 'PUT' && req.contentLength !== undefined ? String(req.contentLength) : '',
  ].join('\n');
}

export function signBlobRequest(secret: Buffer, req: SignedRequest): string {
  return createHmac('sha256', secret).update(stringToSign(req), 'utf8').digest('base64url');
}

/** Constant-time comparison, so the signature cannot be guessed byte by byte from timings. */
export function blobSignatureMatches(secret: Buffer, req: SignedRequest, signature: string): boolean {
  const expected = Buffer.from(signBlobRequest(secret, req), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
