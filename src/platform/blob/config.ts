/**
 * Choosing a blob store from configuration. The process's config layer maps environment
 * variables and the config file onto `BlobStoreConfig`; this turns it into a store and rejects a
 * half-filled one with a message naming the field, before any upload depends on it.
 */
import { FilesystemBlobStore } from './fs-store.ts';
import { S3BlobStore } from './s3-store.ts';
import type { BlobStore } from './store.ts';

/** Embedded mode: blobs are files, served by Taskyard itself (see `registerBlobRoutes`). */
export interface FilesystemBlobConfig {
  kind: 'filesystem';
  /** The directory holding every blob, e.g. `<data dir>/blobs`; created on first write. */
  root: string;
}

/** At scale: an S3-compatible bucket that clients upload to and download from directly. */
export interface S3BlobConfig {
  kind: 's3';
  /** The bucket; it must exist (this never creates it). */
  bucket: string;
  /** Optional key prefix (no leading or trailing `/` needed), to share a bucket between deployments. */
  prefix?: string;
  /** The bucket's region; us-east-1 when absent. */
  region?: string;
  /** An S3-compatible server's URL, e.g. `https://minio.example.com`; AWS when absent. */
  endpoint?: string;
  /** Path-style URLs (`<endpoint>/<bucket>/<key>`); MinIO and most self-hosted servers need it. */
  forcePathStyle?: boolean;
  /** Static credentials; give both or neither. Neither: the AWS SDK's default chain (env, role). */
  accessKeyId?: string;
  /** The secret for `accessKeyId`. */
  secretAccessKey?: string;
}

export type BlobStoreConfig = FilesystemBlobConfig | S3BlobConfig;

/** What the filesystem store needs from the running process rather than from configuration. */
export interface FilesystemBlobContext {
  /** Where the blob routes are served, e.g. `() => rootUrl() + '/blobs'`. */
  baseUrl: () => string;
  /** The HMAC key for its signed URLs, kept in the data directory so URLs survive a restart. */
  secret: Buffer;
}

export function createBlobStore(
  config: FilesystemBlobConfig,
  context: FilesystemBlobContext,
): FilesystemBlobStore;
export function createBlobStore(config: S3BlobConfig): S3BlobStore;
export function createBlobStore(config: BlobStoreConfig, context?: FilesystemBlobContext): BlobStore;
export function createBlobStore(config: BlobStoreConfig, context?: FilesystemBlobContext): BlobStore {
  switch (config.kind) {
    case 'filesystem': {
      if (!config.root) throw new Error('blob store: filesystem needs root (a directory)');
      if (!context) throw new Error('blob store: filesystem needs a base URL and a signing secret');
      return new FilesystemBlobStore({ root: config.root, baseUrl: context.baseUrl, secret: context.secret });
    }
    case 's3': {
      if (!config.bucket) throw new Error('blob store: s3 needs bucket');
      if (Boolean(config.accessKeyId) !== Boolean(config.secretAccessKey)) {
        throw new Error('blob store: s3 needs both accessKeyId and secretAccessKey, or neither');
      }
      if (config.endpoint !== undefined && !URL.canParse(config.endpoint)) {
        throw new Error(`blob store: s3 endpoint ${JSON.stringify(config.endpoint)} is not a URL`);
      }
      return new S3BlobStore({
        bucket: config.bucket,
        prefix: config.prefix,
        region: config.region,
        endpoint: config.endpoint,
        forcePathStyle: config.forcePathStyle,
        credentials:
          config.accessKeyId && config.secretAccessKey
            ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
            : undefined,
      });
    }
    default: {
      const kind = (config as { kind?: unknown }).kind;
      throw new Error(`blob store: kind must be "filesystem" or "s3", not ${JSON.stringify(kind)}`);
    }
  }
}
