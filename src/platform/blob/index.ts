export {
  type BlobStoreConfig,
  createBlobStore,
  type FilesystemBlobConfig,
  type FilesystemBlobContext,
  type S3BlobConfig,
} from './config.ts';
export { type BlobRouteOptions, registerBlobRoutes } from './fs-routes.ts';
export {
  type BlobAccess,
  BlobLengthMismatchError,
  BlobTooLargeError,
  FilesystemBlobStore,
  type FilesystemBlobStoreOptions,
  type OpenBlob,
} from './fs-store.ts';
export {
  assertValidBlobKey,
  assertValidContentType,
  encodeBlobKey,
  InvalidBlobKeyError,
  MAX_BLOB_KEY_BYTES,
} from './key.ts';
export { MAX_PRESIGN_SECONDS, S3BlobStore, type S3BlobStoreOptions } from './s3-store.ts';
export type { BlobInfo, BlobStore, BlobUpload, BlobUploadOptions } from './store.ts';
