/**
 * The blob store: where artifact bytes live. The queue stores only an artifact's metadata in
 * PostgreSQL; the bytes go to one of two backends behind this interface, the local filesystem
 * in embedded mode (`fs-store.ts`) and S3-compatible object storage at scale (`s3-store.ts`).
 * Clients never stream bytes through the API services: workers PUT to a signed upload URL and
 * users GET from a signed download URL (the queue answers 303 to it), so the API processes stay
 * small and stateless whatever the artifact sizes.
 */

/** What a client needs to upload: PUT the bytes to `url` with exactly these `headers`. */
export interface BlobUpload {
  url: string;
  method: 'PUT';
  /** Headers the signature covers (content type, and length when it was given): send them as is. */
  headers: Record<string, string>;
}

export interface BlobUploadOptions {
  /** The content type the client must send, and the blob is served with. */
  contentType: string;
  /** When given, the upload must be exactly this many bytes. */
  contentLength?: number;
  /** The URL stops working after this instant. */
  expires: Date;
}

export interface BlobInfo {
  size: number;
  contentType?: string;
}

export interface BlobStore {
  /** A URL a client can PUT the bytes to (with the given content type and, optionally, length), valid until `expires`. */
  uploadUrl(key: string, opts: BlobUploadOptions): Promise<BlobUpload>;
  /** A URL a client can GET the bytes from, valid until `expires`. */
  downloadUrl(key: string, opts: { expires: Date }): Promise<string>;
  /** Size/contentType if the blob exists (used to check an upload finished), else undefined. */
  head(key: string): Promise<BlobInfo | undefined>;
  /** Stream bytes in (server-side writes, e.g. live logs), constant memory. */
  put(
    key: string,
    body: NodeJS.ReadableStream | Buffer | string,
    opts: { contentType: string },
  ): Promise<void>;
  /** Stream bytes out; undefined when there is no such blob. */
  get(key: string): Promise<NodeJS.ReadableStream | undefined>;
  /** Deletes the blobs that exist among `keys`; missing ones are not an error (expiry may repeat). */
  delete(keys: string[]): Promise<void>;
}
