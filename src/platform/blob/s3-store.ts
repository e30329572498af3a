/**
 * The blob store at scale: objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...).
 * Clients upload and download with presigned URLs straight to the bucket; this process only
 * signs them, checks an upload landed (HeadObject), writes server-side blobs such as live logs
 * and deletes expired ones.
 */
import { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertValidBlobKey, assertValidContentType } from './key.ts';
import type { BlobInfo, BlobStore, BlobUpload, BlobUploadOptions } from './store.ts';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Prepended to every key as `<prefix>/<key>`, so one bucket can hold several deployments. */
  prefix?: string;
  /** Default us-east-1, which S3-compatible servers generally accept. */
  region?: string;
  /** For S3-compatible servers, e.g. `http://minio:9000`; AWS's own endpoint when absent. */
  endpoint?: string;
  /** `<endpoint>/<bucket>/<key>` URLs instead of `<bucket>.<endpoint>`; most non-AWS servers need it. */
  forcePathStyle?: boolean;
  /** When absent, the AWS SDK's default chain (environment, profile, instance role) applies. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The clock, in milliseconds, for turning `expires` into a presigned URL's lifetime. */
  now?: () => number;
}

/** SigV4 presigned URLs live at most 7 days; a longer request gets the longest allowed. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 60 * 60;
/** DeleteObjects takes at most 1000 keys per call. */
const DELETE_BATCH = 1000;
/** Bodies up to this size go in one PutObject; larger or unknown-size ones in a multipart upload. */
const MULTIPART_PART_BYTES = 8 * 1024 * 1024;

const isNotFound = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
};

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(opts: S3BlobStoreOptions) {
    if (!opts.bucket) throw new TypeError('S3BlobStore needs a bucket');
    const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.prefix = prefix === '' ? '' : `${assertValidBlobKey(prefix)}/`;
    this.bucket = opts.bucket;
    this.now = opts.now ?? Date.now;
    this.client = new S3Client({
      region: opts.region ?? 'us-east-1',
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle,
      credentials: opts.credentials,
      // The SDK's default adds a CRC32 of the (empty) request body to every PutObject, which in
      // a presigned URL would pin the upload to zero bytes; many S3-compatible servers also reject
      // the newer checksum headers. Checksums are sent only where the S3 API requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async uploadUrl(key: string, opts: BlobUploadOptions): Promise<BlobUpload> {
    assertValidContentType(opts.contentType);
    const { contentLength } = opts;
    if (contentLength !== undefined && !(Number.isSafeInteger(contentLength) && contentLength >= 0)) {
      throw new TypeError(`invalid content length ${contentLength}: must be a non-negative integer`);
    }
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: this.objectKey(key),
      ContentType: opts.contentType,
      ContentLength: contentLength,
    });
    const url = await getSignedUrl(this.client, command, {
      ...this.presignOptions(opts.expires),
      // The presigner leaves content-type out of the signature by default, which would let the
      // holder of the URL store the bytes under any type (say text/html); sign it like the length.
      signableHeaders: new Set(['content-type']),
    });
    // The signature covers these headers, so the client must send them exactly.
    const headers: Record<string, string> = { 'content-type': opts.contentType };
    if (contentLength !== undefined) headers['content-length'] = String(contentLength);
    return { url, method: 'PUT', headers };
  }

  async downloadUrl(key: string, opts: { expires: Date }): Promise<string> {
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) });
    return getSignedUrl(this.client, command, this.presignOptions(opts.expires));
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return { size: out.ContentLength ?? 0, contentType: out.ContentType };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Small in-memory bodies go in one PutObject. Streams go through lib-storage's Upload, which
   * sends one PutObject when the stream turns out short and a multipart upload otherwise,
   * holding at most `queueSize` parts in memory whatever the total size.
   */
  async put(key: string, body: NodeJS.ReadableStream | Buffer | string, opts: { contentType: string }) {
    assertValidContentType(opts.contentType);
    const Key = this.objectKey(key);
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      const buf = Buffer.from(body);
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key, Body: buf, ContentType: opts.contentType }),
      );
      return;
    }
    const stream = body instanceof Readable ? body : new Readable().wrap(body);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key, Body: stream, ContentType: opts.contentType },
      partSize: MULTIPART_PART_BYTES,
      queueSize: 2,
      // An upload that fails part-way is aborted, so no orphaned parts keep costing storage.
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async get(key: string): Promise<NodeJS.ReadableStream | undefined> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return out.Body as Readable | undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async delete(keys: string[]): Promise<void> {
    // Check every key first, so a bad one in the list deletes nothing.
    const objectKeys = keys.map((key) => this.objectKey(key));
    for (let i = 0; i < objectKeys.length; i += DELETE_BATCH) {
      const batch = objectKeys.slice(i, i + DELETE_BATCH);
      const out = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      // DeleteObjects answers 200 even when some keys failed; the failures are in the body.
      const errors = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (errors.length > 0) {
        const sample = errors
          .slice(0, 3)
          .map((e) => `${e.Key}: ${e.Code} ${e.Message ?? ''}`.trim())
          .join('; ');
        throw new Error(`S3 refused to delete ${errors.length} of ${batch.length} objects (${sample})`);
      }
    }
  }

  /** Closes the client's connections. */
  destroy(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    return this.prefix + assertValidBlobKey(key);
  }

  /**
   * Signed now, valid from now until `expires`, within what SigV4 allows (1 s to 7 days). The
   * signing date comes from the same clock as the lifetime, so an injected clock moves both.
   */
  private presignOptions(expires: Date) {
    const ms = expires.getTime();
    if (!Number.isFinite(ms)) throw new TypeError('expires must be a valid Date');
    const now = this.now();
    const seconds = Math.floor((ms - now) / 1000);
    return { expiresIn: Math.min(MAX_PRESIGN_SECONDS, Math.max(1, seconds)), signingDate: new Date(now) };
  }
}
