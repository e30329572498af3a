/**
 * The blob store of embedded mode: blobs are files under one directory, and Taskyard serves the
 * signed upload and download URLs itself (`fs-routes.ts`), so a laptop needs no object storage.
 *
 * Layout: a blob's file is named by the SHA-256 of its key, fanned out over 256 directories
 * (`<root>/<2 hex>/<64 hex>`), with its content type in a sidecar `<file>.meta.json`. Naming by
 * hash rather than mirroring the key means no key can reach outside the root even if a check
 * were missed, no segment hits the filesystem's name-length limit, and keys `a` and `a/b` can
 * both exist, as they can in S3. The sidecar records the key, for whoever browses the directory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertValidBlobKey, assertValidContentType, encodeBlobKey } from './key.ts';
import { blobSignatureMatches, signBlobRequest } from './signing.ts';
import type { BlobInfo, BlobStore, BlobUpload, BlobUploadOptions } from './store.ts';

export interface FilesystemBlobStoreOptions {
  /** The directory that holds every blob; created on first write. */
  root: string;
  /** Where `registerBlobRoutes` serves this store, e.g. `() => rootUrl + '/blobs'`; read per URL. */
  baseUrl: () => string;
  /** The HMAC key for signed URLs (at least 16 bytes). Keep it across restarts, or URLs die. */
  secret: Buffer;
  /** The clock, in milliseconds; tests inject one to expire URLs without waiting. */
  now?: () => number;
}

/** An upload went past the route's size limit; nothing was stored. */
export class BlobTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the upload is larger than the limit of ${maxBytes} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

/** An upload's length differed from the one its URL was signed for; nothing was stored. */
export class BlobLengthMismatchError extends Error {
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`the upload URL is for exactly ${expected} bytes, but ${actual} were sent`);
    this.name = 'BlobLengthMismatchError';
  }
}

/** The verdict on a signed URL; `status` is what the HTTP route answers when it is refused. */
export type BlobAccess =
  | { ok: true; contentLength?: number }
  | { ok: false; status: 403 | 410; code: 'AuthenticationFailed' | 'ResourceExpired'; message: string };

export interface OpenBlob {
  handle: FileHandle;
  size: number;
  mtime: Date;
  contentType?: string;
}

interface WriteOptions {
  contentType: string;
  /** Stop and fail with BlobTooLargeError once this many bytes have come in. */
  maxBytes?: number;
  /** Fail with BlobLengthMismatchError unless exactly this many bytes came in. */
  expectedBytes?: number;
}

/** Chunks are Buffers/Uint8Arrays or strings; a Readable is also piped as a stream. */
type Source = NodeJS.ReadableStream | AsyncIterable<unknown>;

const isMissing = (err: unknown) => {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

const DIGITS = /^[0-9]{1,15}$/;

export class FilesystemBlobStore implements BlobStore {
  readonly root: string;
  private readonly baseUrl: () => string;
  private readonly secret: Buffer;
  private readonly now: () => number;

  constructor(opts: FilesystemBlobStoreOptions) {
    if (!opts.root) throw new TypeError('FilesystemBlobStore needs a root directory');
    if (!Buffer.isBuffer(opts.secret) || opts.secret.length < 16) {
      throw new TypeError('FilesystemBlobStore needs a secret of at least 16 bytes to sign URLs');
    }
    this.root = resolve(opts.root);
    this.baseUrl = opts.baseUrl;
    this.secret = opts.secret;
    this.now = opts.now ?? Date.now;
  }

  async uploadUrl(key: string, opts: BlobUploadOptions): Promise<BlobUpload> {
    assertValidBlobKey(key);
    assertValidContentType(opts.contentType);
    const { contentLength } = opts;
    if (contentLength !== undefined && !(Number.isSafeInteger(contentLength) && contentLength >= 0)) {
      throw new TypeError(`invalid content length ${contentLength}: must be a non-negative integer`);
    }
    const expires = unixSeconds(opts.expires);
    const signature = signBlobRequest(this.secret, {
      method: 'PUT',
      key,
      expires,
      contentType: opts.contentType,
      contentLength,
    });
    const query = new URLSearchParams({ expires: String(expires) });
    if (contentLength !== undefined) query.set('length', String(contentLength));
    query.set('signature', signature);
    const headers: Record<string, string> = { 'content-type': opts.contentType };
    if (contentLength !== undefined) headers['content-length'] = String(contentLength);
    return { url: `${this.urlFor(key)}?${query}`, method: 'PUT', headers };
  }

  async downloadUrl(key: string, opts: { expires: Date }): Promise<string> {
    assertValidBlobKey(key);
    const expires = unixSeconds(opts.expires);
    const signature = signBlobRequest(this.secret, { method: 'GET', key, expires });
    return `${this.urlFor(key)}?${new URLSearchParams({ expires: String(expires), signature })}`;
  }

  /**
   * Checks a signed URL's query against the request. The signature is checked before the
   * deadline, so only someone holding a genuine URL learns that it has expired (410).
   */
  authorize(req: {
    method: 'GET' | 'PUT';
    key: string;
    query: Record<string, unknown>;
    contentType?: string;
  }): BlobAccess {
    const { expires, length, signature } = req.query;
    const refuse = (message: string): BlobAccess => ({
      ok: false,
      status: 403,
      code: 'AuthenticationFailed',
      message,
    });
    if (typeof signature !== 'string' || typeof expires !== 'string' || !DIGITS.test(expires)) {
      return refuse('this URL is not signed: it needs the expires and signature query parameters');
    }
    if (
      length !== undefined &&
      (req.method !== 'PUT' || typeof length !== 'string' || !DIGITS.test(length))
    ) {
      return refuse('the length query parameter is malformed');
    }
    const contentLength = length === undefined ? undefined : Number(length);
    const signed = {
      method: req.method,
      key: req.key,
      expires: Number(expires),
      contentType: req.method === 'PUT' ? (req.contentType ?? '') : undefined,
      contentLength,
    };
    if (!blobSignatureMatches(this.secret, signed, signature)) {
      return refuse(
        req.method === 'PUT'
          ? 'the signature does not match this URL, method and content type'
          : 'the signature does not match this URL and method',
      );
    }
    if (this.now() > signed.expires * 1000) {
      return {
        ok: false,
        status: 410,
        code: 'ResourceExpired',
        message: `this URL expired at ${new Date(signed.expires * 1000).toISOString()}`,
      };
    }
    return { ok: true, contentLength };
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    const paths = this.paths(key);
    try {
      const st = await stat(paths.data);
      const meta = await readMeta(paths.meta);
      return { size: st.size, contentType: meta.contentType };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async put(key: string, body: NodeJS.ReadableStream | Buffer | string, opts: { contentType: string }) {
    const source =
      typeof body === 'string' || Buffer.isBuffer(body) ? Readable.from([Buffer.from(body)]) : body;
    await this.write(key, source, { contentType: opts.contentType });
  }

  /**
   * Streams `source` into a temporary file beside the blob, then renames it into place, so a
   * reader sees the old blob or the whole new one, never a partial upload. Memory use is one
   * chunk at a time whatever the size: the file stream's backpressure paces the source. The
   * sidecar is renamed first, so when the data appears its content type is already there. (Two
   * uploads racing for one key could pair one's type with the other's bytes; the queue hands out
   * one upload per artifact, so it does not race itself.)
   */
  async write(key: string, source: Source, opts: WriteOptions): Promise<{ size: number }> {
    assertValidBlobKey(key);
    assertValidContentType(opts.contentType);
    const paths = this.paths(key);
    await mkdir(paths.dir, { recursive: true });
    const tag = randomBytes(8).toString('hex');
    const tmp = `${paths.data}.${tag}.tmp`;
    const metaTmp = `${paths.meta}.${tag}.tmp`;
    let size = 0;
    const { maxBytes } = opts;
    async function* count(chunks: AsyncIterable<unknown>) {
      for await (const chunk of chunks) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
        size += buf.length;
        if (maxBytes !== undefined && size > maxBytes) throw new BlobTooLargeError(maxBytes);
        yield buf;
      }
    }
    try {
      await pipeline(source as AsyncIterable<unknown>, count, createWriteStream(tmp, { flags: 'wx' }));
      if (opts.expectedBytes !== undefined && size !== opts.expectedBytes) {
        throw new BlobLengthMismatchError(opts.expectedBytes, size);
      }
      await writeFile(metaTmp, JSON.stringify({ key, contentType: opts.contentType }), { flag: 'wx' });
      await rename(metaTmp, paths.meta);
      await rename(tmp, paths.data);
    } catch (err) {
      await Promise.all([rm(tmp, { force: true }), rm(metaTmp, { force: true })]);
      throw err;
    }
    return { size };
  }

  async get(key: string): Promise<NodeJS.ReadableStream | undefined> {
    const blob = await this.open(key);
    return blob?.handle.createReadStream();
  }

  /**
   * Opens a blob for reading. Size and time come from the open file, so they describe the bytes
   * read even if an upload replaces the blob meanwhile. The caller closes `handle` (a stream made
   * from it closes it when done).
   */
  async open(key: string): Promise<OpenBlob | undefined> {
    const paths = this.paths(key);
    let handle: FileHandle;
    try {
      handle = await open(paths.data, 'r');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    try {
      const st = await handle.stat();
      const meta = await readMeta(paths.meta);
      return { handle, size: st.size, mtime: st.mtime, contentType: meta.contentType };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async delete(keys: string[]): Promise<void> {
    // Check every key first, so a bad one in the list deletes nothing.
    const all = keys.map((key) => this.paths(key));
    // A bounded batch at a time: expiry may pass thousands of keys, and each is two unlinks.
    for (let i = 0; i < all.length; i += 64) {
      await Promise.all(
        all.slice(i, i + 64).flatMap((p) => [rm(p.data, { force: true }), rm(p.meta, { force: true })]),
      );
    }
  }

  private urlFor(key: string): string {
    return `${this.baseUrl().replace(/\/+$/, '')}/${encodeBlobKey(key)}`;
  }

  private paths(key: string) {
    assertValidBlobKey(key);
    const hash = createHash('sha256').update(key, 'utf8').digest('hex');
    const dir = join(this.root, hash.slice(0, 2));
    const data = join(dir, hash);
    return { dir, data, meta: `${data}.meta.json` };
  }
}

/** URLs carry whole seconds; rounding down means a URL never outlives the deadline asked for. */
function unixSeconds(date: Date): number {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new TypeError('expires must be a valid Date');
  return Math.max(0, Math.floor(ms / 1000));
}

async function readMeta(path: string): Promise<{ contentType?: string }> {
  try {
    const meta = JSON.parse(await readFile(path, 'utf8')) as { contentType?: unknown };
    return typeof meta.contentType === 'string' ? { contentType: meta.contentType } : {};
  } catch (err) {
    // A blob written by hand, or whose sidecar was lost, is still served, as untyped bytes.
    if (isMissing(err) || err instanceof SyntaxError) return {};
    throw err;
  }
}
