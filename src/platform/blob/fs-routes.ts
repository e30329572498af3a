/**
 * The HTTP side of the filesystem store: Taskyard answers the signed URLs that
 * `FilesystemBlobStore` hands out, as S3 would at scale. `PUT <prefix>/<key>` stores the body,
 * `GET`/`HEAD <prefix>/<key>` serves it, with Range support. Bodies are streamed both ways, so a
 * multi-gigabyte artifact costs the process one chunk of memory at a time.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type BlobAccess,
  BlobLengthMismatchError,
  BlobTooLargeError,
  type FilesystemBlobStore,
} from './fs-store.ts';
import { assertValidBlobKey, InvalidBlobKeyError } from './key.ts';
import { ifRangeHolds, parseRange } from './range.ts';

export interface BlobRouteOptions {
  /** Larger uploads get 413 and are not stored. No limit when absent. */
  maxBytes?: number;
}

type Reply = FastifyReply;

function sendError(reply: Reply, status: number, code: string, message: string): Reply {
  return reply
    .status(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send({ code, message });
}

function refuse(reply: Reply, access: Exclude<BlobAccess, { ok: true }>): Reply {
  return sendError(reply, access.status, access.code, access.message);
}

/** The key from the path: the router has percent-decoded it, and it is checked like any key. */
function keyOf(request: FastifyRequest, reply: Reply): string | undefined {
  const key = (request.params as { '*'?: string })['*'] ?? '';
  try {
    return assertValidBlobKey(key);
  } catch (err) {
    if (!(err instanceof InvalidBlobKeyError)) throw err;
    sendError(reply, 400, 'InputError', err.message);
    return undefined;
  }
}

function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header === undefined ? undefined : Number(header);
}

/**
 * An upload refused part-way: the rest of the body is not worth reading, so the connection is
 * closed once the answer is out (the client may see the answer or a reset, depending on timing).
 */
function refuseBody(reply: Reply, status: number, code: string, message: string): Reply {
  return sendError(reply.header('connection', 'close'), status, code, message);
}

async function handlePut(
  store: FilesystemBlobStore,
  opts: BlobRouteOptions,
  request: FastifyRequest,
  reply: Reply,
) {
  const key = keyOf(request, reply);
  if (key === undefined) return reply;
  const contentType = request.headers['content-type'] ?? '';
  const access = store.authorize({
    method: 'PUT',
    key,
    query: request.query as Record<string, unknown>,
    contentType,
  });
  if (!access.ok) return refuse(reply, access);
  const declared = declaredLength(request);
  if (access.contentLength !== undefined && declared !== undefined && declared !== access.contentLength) {
    return sendError(
      reply,
      403,
      'AuthenticationFailed',
      `this URL is signed for ${access.contentLength} bytes, but content-length says ${declared}`,
    );
  }
  if (opts.maxBytes !== undefined && declared !== undefined && declared > opts.maxBytes) {
    return refuseBody(reply, 413, 'InputTooLarge', new BlobTooLargeError(opts.maxBytes).message);
  }
  try {
    // The raw request, not a parsed body: Fastify's parsers would buffer it whole. The iterator
    // must not destroy the request when the write fails, or no error answer could be sent.
    await store.write(key, request.raw.iterator({ destroyOnReturn: false }), {
      contentType,
      maxBytes: opts.maxBytes,
      expectedBytes: access.contentLength,
    });
  } catch (err) {
    if (request.raw.destroyed || request.raw.aborted) {
      // The client went away mid-upload: the temporary file is gone and nobody is listening.
      reply.hijack();
      reply.raw.destroy();
      return reply;
    }
    if (err instanceof BlobTooLargeError) return refuseBody(reply, 413, 'InputTooLarge', err.message);
    if (err instanceof BlobLengthMismatchError) return refuseBody(reply, 400, 'InputError', err.message);
    throw err;
  }
  // 200 with an empty body, as S3 answers a PUT, so uploaders need not know which store they use.
  return reply.status(200).send();
}

async function handleGet(store: FilesystemBlobStore, request: FastifyRequest, reply: Reply) {
  const key = keyOf(request, reply);
  if (key === undefined) return reply;
  // A HEAD tells no more than the GET its URL was signed for, so the GET signature admits both.
  const access = store.authorize({ method: 'GET', key, query: request.query as Record<string, unknown> });
  if (!access.ok) return refuse(reply, access);
  const blob = await store.open(key);
  if (!blob) return sendError(reply, 404, 'ResourceNotFound', `no blob ${JSON.stringify(key)}`);
  const etag = `"${blob.size.toString(16)}-${Math.floor(blob.mtime.getTime()).toString(16)}"`;
  reply.headers({
    'content-type': blob.contentType ?? 'application/octet-stream',
    'accept-ranges': 'bytes',
    etag,
    'last-modified': blob.mtime.toUTCString(),
    // Blobs are served from Taskyard's own origin, beside the UI and its credentials: a user's
    // HTML or SVG artifact must not run as that origin, nor be sniffed into something runnable.
    'x-content-type-options': 'nosniff',
    'content-security-policy': "sandbox; default-src 'none'",
  });
  const ifRange = request.headers['if-range'] as string | undefined;
  const range = ifRangeHolds(ifRange, etag, blob.mtime)
    ? parseRange(request.headers.range, blob.size)
    : ({ kind: 'whole' } as const);
  if (range.kind === 'unsatisfiable') {
    await blob.handle.close();
    reply.header('content-range', `bytes */${blob.size}`);
    return sendError(reply, 416, 'InputError', `the range is outside the blob's ${blob.size} bytes`);
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, blob.size - 1];
  if (range.kind === 'partial') {
    reply.status(206).header('content-range', `bytes ${start}-${end}/${blob.size}`);
  }
  reply.header('content-length', String(Math.max(0, end - start + 1)));
  if (request.method === 'HEAD' || blob.size === 0) {
    await blob.handle.close();
    return reply.send();
  }
  return reply.send(blob.handle.createReadStream({ start, end }));
}

/**
 * Serves `store`'s signed URLs under `prefix` (which must match the store's `baseUrl`). The
 * routes live in their own encapsulated context, so the app's body parsers stay as they are
 * elsewhere while here every body reaches the handler unread.
 */
export function registerBlobRoutes(
  app: FastifyInstance,
  store: FilesystemBlobStore,
  prefix = '/blobs',
  opts: BlobRouteOptions = {},
): void {
  app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      // Hands the body over unread; the PUT handler streams it from the raw request.
      scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
      scope.put('/*', (request, reply) => handlePut(store, opts, request, reply));
      scope.route({
        method: ['GET', 'HEAD'],
        url: '/*',
        exposeHeadRoute: false,
        handler: (request, reply) => handleGet(store, request, reply),
      });
    },
    { prefix },
  );
}
