import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import S3rver from '@20minutes/s3rver';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PRESIGN_SECONDS, S3BlobStore } from '../../../src/platform/blob/index.ts';
import { blobStoreContract, inMinutes, readAll } from './contract.ts';

const BUCKET = 'taskyard-blobs';
// s3rver's built-in account.
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * s3rver computes the signature of a bucket-level request (DeleteObjects, ListObjectsV2) over
 * `/<bucket>` while the SDK signs `/<bucket>/`, as AWS does; this drops the trailing slash before
 * signing, for the tests only. Object requests are untouched.
 */
function adaptToS3rver(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { path?: string };
      if (request.path && /^\/[^/]+\/$/.test(request.path)) request.path = request.path.slice(0, -1);
      return next(args);
    },
    { step: 'build', name: 's3rverBucketPath' },
  );
}

interface S3Fixture {
  endpoint: string;
  newStore(opts?: { prefix?: string; now?: () => number }): S3BlobStore;
  /** A plain client, to look at the bucket without going through the store. */
  raw: S3Client;
  close(): Promise<void>;
}

/** An S3-protocol server in this process, on a loopback port, with one empty bucket. */
async function startS3(): Promise<S3Fixture> {
  const directory = await mkdtemp(join(tmpdir(), 'taskyard-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const stores: S3BlobStore[] = [];
  const raw = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials });
  adaptToS3rver(raw);
  return {
    endpoint,
    raw,
    newStore: (opts = {}) => {
      const store = new S3BlobStore({
        bucket: BUCKET,
        endpoint,
        forcePathStyle: true,
        credentials,
        ...opts,
      });
      adaptToS3rver(store.client);
      stores.push(store);
      return store;
    },
    close: async () => {
      for (const store of stores) store.destroy();
      raw.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

blobStoreContract('S3BlobStore', async () => {
  const s3 = await startS3();
  let offset = 0;
  const store = s3.newStore({ prefix: 'contract', now: () => Date.now() + offset });
  return {
    store,
    setClockOffset: (ms) => {
      offset = ms;
    },
    close: () => s3.close(),
  };
});

describe('S3BlobStore against a local S3 server', () => {
  let s3: S3Fixture;
  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => s3?.close());

  it('keeps objects under its prefix, whatever slashes the prefix was given with', async () => {
    const store = s3.newStore({ prefix: '/deploy-a/' });
    await store.put('task/0/public/x.txt', 'hello', { contentType: 'text/plain' });
    const head = await s3.raw.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: 'deploy-a/task/0/public/x.txt' }),
    );
    expect(head.ContentLength).toBe(5);
    const other = s3.newStore({ prefix: 'deploy-b' });
    expect(await other.head('task/0/public/x.txt')).toBeUndefined();
  });

  it('refuses a prefix that could climb out of its place', () => {
    expect(() => s3.newStore({ prefix: '../other' })).toThrow(/invalid blob key/);
  });

  it('presigns a PUT that carries the content type and works with a plain fetch', async () => {
    const store = s3.newStore();
    const up = await store.uploadUrl('direct/upload.json', {
      contentType: 'application/json',
      expires: inMinutes(5),
    });
    expect(up).toMatchObject({ method: 'PUT', headers: { 'content-type': 'application/json' } });
    const url = new URL(up.url);
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toContain('content-type');
    // No checksum of an empty body pinned into the URL (the SDK's default would add one).
    expect([...url.searchParams.keys()].filter((k) => k.toLowerCase().includes('checksum'))).toEqual([]);
    const res = await fetch(up.url, { method: 'PUT', headers: up.headers, body: '{"ok":true}' });
    expect(res.status).toBe(200);
    expect(await store.head('direct/upload.json')).toEqual({ size: 11, contentType: 'application/json' });
  });

  it('clamps presigned URLs to the 7 days SigV4 allows and to at least a second', async () => {
    const store = s3.newStore();
    const far = new URL(await store.downloadUrl('a', { expires: new Date(Date.now() + 30 * 86_400_000) }));
    expect(far.searchParams.get('X-Amz-Expires')).toBe(String(MAX_PRESIGN_SECONDS));
    const past = new URL(await store.downloadUrl('a', { expires: new Date(Date.now() - 60_000) }));
    expect(past.searchParams.get('X-Amz-Expires')).toBe('1');
  });

  it('streams a large body in as a multipart upload and back out intact', async () => {
    const store = s3.newStore();
    const MiB = 1024 * 1024;
    const hash = createHash('sha256');
    const parts = 20;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < parts; i++) {
          const chunk = Buffer.alloc(MiB, i);
          hash.update(chunk);
          yield chunk;
        }
      })(),
    );
    await store.put('large/blob.bin', source, { contentType: 'application/octet-stream' });
    expect(await store.head('large/blob.bin')).toEqual({
      size: parts * MiB,
      contentType: 'application/octet-stream',
    });
    const back = await readAll((await store.get('large/blob.bin'))!);
    expect(createHash('sha256').update(back).digest('hex')).toBe(hash.digest('hex'));
  });

  it('deletes in batches of at most 1000 keys', async () => {
    const store = s3.newStore({ prefix: 'batches' });
    const sizes: number[] = [];
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'DeleteObjectsCommand') {
          const input = args.input as { Delete: { Objects: unknown[] } };
          sizes.push(input.Delete.Objects.length);
        }
        return next(args);
      },
      { step: 'initialize', name: 'countDeletes' },
    );
    await store.put('k/5', 'five', { contentType: 'text/plain' });
    await store.put('k/2400', 'late', { contentType: 'text/plain' });
    const keys = Array.from({ length: 2500 }, (_, i) => `k/${i}`);
    await store.delete(keys);
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(await store.head('k/5')).toBeUndefined();
    expect(await store.head('k/2400')).toBeUndefined();
    const left = await s3.raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'batches/' }));
    expect(left.KeyCount ?? 0).toBe(0);
  });
});
