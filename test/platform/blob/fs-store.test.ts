import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FilesystemBlobStore,
  InvalidBlobKeyError,
  registerBlobRoutes,
} from '../../../src/platform/blob/index.ts';
import { blobStoreContract, inMinutes, PATH_TRICKS, readAll, uploadTo } from './contract.ts';

interface FsFixture {
  app: FastifyInstance;
  store: FilesystemBlobStore;
  baseUrl: string;
  /** A directory holding only `root`, to check nothing lands beside it. */
  parent: string;
  root: string;
  setClockOffset(ms: number): void;
  close(): Promise<void>;
}

async function startFsStore(opts: { maxBytes?: number } = {}): Promise<FsFixture> {
  const parent = await mkdtemp(join(tmpdir(), 'taskyard-blob-'));
  const root = join(parent, 'blobs');
  let offset = 0;
  let baseUrl = '';
  const store = new FilesystemBlobStore({
    root,
    baseUrl: () => baseUrl,
    secret: randomBytes(32),
    now: () => Date.now() + offset,
  });
  const app = Fastify();
  registerBlobRoutes(app, store, '/blobs', opts);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  baseUrl = `http://127.0.0.1:${port}/blobs`;
  return {
    app,
    store,
    baseUrl,
    parent,
    root,
    setClockOffset: (ms) => {
      offset = ms;
    },
    close: async () => {
      await app.close();
      await rm(parent, { recursive: true, force: true });
    },
  };
}

/** A request sent exactly as written: fetch would normalise `..` and `//` away before sending. */
function rawRequest(port: number, method: string, path: string, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body !== undefined) req.setHeader('content-type', 'text/plain');
    req.end(body);
  });
}

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

blobStoreContract('FilesystemBlobStore', () => startFsStore());

describe('FilesystemBlobStore served by its own routes', () => {
  let fx: FsFixture;
  let port: number;
  beforeAll(async () => {
    fx = await startFsStore({ maxBytes: 1000 });
    port = (fx.app.server.address() as { port: number }).port;
  });
  afterAll(async () => fx?.close());

  it('hands out URLs under its base URL that name the key, deadline and signature', async () => {
    const up = await fx.store.uploadUrl('t/0/public/a b.txt', {
      contentType: 'text/plain',
      expires: inMinutes(5),
    });
    expect(up.method).toBe('PUT');
    expect(up.headers).toEqual({ 'content-type': 'text/plain' });
    const url = new URL(up.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${fx.baseUrl}/t/0/public/a%20b.txt`);
    expect(url.searchParams.get('expires')).toMatch(/^\d+$/);
    expect(url.searchParams.get('signature')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('answers 410 for an expired URL whose signature is genuine, 403 for one that is not', async () => {
    await uploadTo(fx.store, 'exp/x', 'x', 'text/plain');
    const url = new URL(await fx.store.downloadUrl('exp/x', { expires: inMinutes(1) }));
    fx.setClockOffset(2 * 60_000);
    try {
      const expired = await fetch(url);
      expect(expired.status).toBe(410);
      expect(await expired.json()).toMatchObject({ code: 'ResourceExpired' });
      url.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
      const extended = await fetch(url);
      expect(extended.status).toBe(403);
      expect(await extended.json()).toMatchObject({ code: 'AuthenticationFailed' });
    } finally {
      fx.setClockOffset(0);
    }
  });

  it('answers 403 with a JSON error for an unsigned URL', async () => {
    const res = await fetch(`${fx.baseUrl}/some/key`);
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toMatchObject({ code: 'AuthenticationFailed' });
  });

  it('answers 404 with a JSON error for a signed URL to a missing blob', async () => {
    const res = await fetch(await fx.store.downloadUrl('missing/blob', { expires: inMinutes(5) }));
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'ResourceNotFound' });
  });

  it('answers HEAD with the size and type but no body', async () => {
    await uploadTo(fx.store, 'head/x', 'twelve bytes', 'text/plain; charset=utf-8');
    const res = await fetch(await fx.store.downloadUrl('head/x', { expires: inMinutes(5) }), {
      method: 'HEAD',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('12');
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('');
  });

  it('serves blobs so that a browser cannot run them as Taskyard’s origin', async () => {
    await uploadTo(fx.store, 'xss/page.html', '<script>alert(1)</script>', 'text/html');
    const res = await fetch(await fx.store.downloadUrl('xss/page.html', { expires: inMinutes(5) }));
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
  });

  it('serves suffix ranges and resumes only if the blob is unchanged (If-Range)', async () => {
    await uploadTo(fx.store, 'range/x', '0123456789', 'text/plain');
    const url = await fx.store.downloadUrl('range/x', { expires: inMinutes(5) });
    const tail = await fetch(url, { headers: { range: 'bytes=-3' } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe('bytes 7-9/10');
    expect(await tail.text()).toBe('789');
    const etag = tail.headers.get('etag')!;
    const same = await fetch(url, { headers: { range: 'bytes=5-', 'if-range': etag } });
    expect(same.status).toBe(206);
    expect(await same.text()).toBe('56789');
    const changed = await fetch(url, { headers: { range: 'bytes=5-', 'if-range': '"other"' } });
    expect(changed.status).toBe(200);
    expect(await changed.text()).toBe('0123456789');
    const unsatisfiable = await fetch(url, { headers: { range: 'bytes=10-' } });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get('content-range')).toBe('bytes */10');
  });

  it('refuses uploads over the size limit, declared or streamed, and stores nothing', async () => {
    const up = await fx.store.uploadUrl('big/x', {
      contentType: 'application/octet-stream',
      expires: inMinutes(5),
    });
    const declared = await fetch(up.url, { method: 'PUT', headers: up.headers, body: Buffer.alloc(1001) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ code: 'InputTooLarge' });
    const chunks = [Buffer.alloc(600), Buffer.alloc(600)];
    const streamed = await fetch(up.url, {
      method: 'PUT',
      headers: up.headers,
      body: new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit).catch(() => undefined);
    // The server answers 413 and closes; depending on timing the client sees that or a reset.
    if (streamed) expect(streamed.status).toBe(413);
    expect(await fx.store.head('big/x')).toBeUndefined();
    const ok = await fetch(up.url, { method: 'PUT', headers: up.headers, body: Buffer.alloc(1000) });
    expect(ok.status).toBe(200);
  });

  it('refuses path tricks in URLs and writes nothing outside its root', async () => {
    const before = await readdir(fx.parent);
    const up = await fx.store.uploadUrl('tricks/ok', { contentType: 'text/plain', expires: inMinutes(5) });
    const query = new URL(up.url).search;
    const paths = [
      '/blobs/../escape',
      '/blobs/a/../../escape',
      '/blobs/%2e%2e/escape',
      '/blobs/a/%2E%2E/%2e%2e/escape',
      '/blobs/a/..%2f..%2fescape',
      '/blobs//etc/passwd',
      '/blobs/a//b',
      '/blobs/a%5c..%5c..%5cescape',
      '/blobs/a%00b',
      '/blobs/',
    ];
    for (const path of paths) {
      const res = await rawRequest(port, 'PUT', `${path}${query}`, 'escaped!');
      expect(res.status, `${path}: ${res.body}`).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'InputError' });
      expect(JSON.parse(res.body).message).toContain('invalid blob key');
    }
    expect(await readdir(fx.parent)).toEqual(before);
    expect((await filesUnder(fx.root)).filter((f) => !f.startsWith(fx.root))).toEqual([]);
    expect(await filesUnder(dirname(fx.root))).toEqual(await filesUnder(fx.root));
  });

  it('refuses path tricks passed to the store directly, touching nothing beside its root', async () => {
    const before = await readdir(fx.parent);
    for (const key of PATH_TRICKS) {
      await expect(fx.store.put(key, 'escaped!', { contentType: 'text/plain' })).rejects.toBeInstanceOf(
        InvalidBlobKeyError,
      );
    }
    expect(await readdir(fx.parent)).toEqual(before);
  });

  it('keeps the old blob whole when an upload breaks off, and leaves no temporary file', async () => {
    await uploadTo(fx.store, 'partial/x', 'old content', 'text/plain');
    const up = await fx.store.uploadUrl('partial/x', { contentType: 'text/plain', expires: inMinutes(5) });
    const url = new URL(up.url);
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: url.pathname + url.search,
        headers: { 'content-type': 'text/plain', 'content-length': '1000' },
      });
      req.on('error', () => resolve());
      req.write('x'.repeat(300), () => setTimeout(() => req.destroy(), 50));
    });
    // The server notices the reset asynchronously; give it a moment to clean up.
    for (let i = 0; i < 50 && (await filesUnder(fx.root)).some((f) => f.endsWith('.tmp')); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await filesUnder(fx.root)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await readAll((await fx.store.get('partial/x'))!)).toString()).toBe('old content');
  });

  it('refuses an upload shorter than the length it was signed for', async () => {
    const up = await fx.store.uploadUrl('short/x', {
      contentType: 'text/plain',
      contentLength: 10,
      expires: inMinutes(5),
    });
    const res = await fetch(up.url, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(Buffer.from('12345'));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit).catch(() => undefined);
    if (res) expect(res.status).toBe(400);
    expect(await fx.store.head('short/x')).toBeUndefined();
  });

  it('rejects a secret too short to sign with', () => {
    expect(
      () => new FilesystemBlobStore({ root: fx.root, baseUrl: () => fx.baseUrl, secret: Buffer.alloc(4) }),
    ).toThrow(/secret/);
  });

  it('is not held to the app’s body limit, which is meant for JSON requests', async () => {
    const app = Fastify({ bodyLimit: 1024 });
    registerBlobRoutes(app, fx.store);
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const up = await fx.store.uploadUrl('limit/x', {
        contentType: 'application/octet-stream',
        expires: inMinutes(5),
      });
      const url = new URL(up.url);
      const { port: appPort } = app.server.address() as { port: number };
      const res = await fetch(`http://127.0.0.1:${appPort}${url.pathname}${url.search}`, {
        method: 'PUT',
        headers: up.headers,
        body: Buffer.alloc(100_000, 7),
      });
      expect(res.status).toBe(200);
      expect((await fx.store.head('limit/x'))?.size).toBe(100_000);
    } finally {
      await app.close();
    }
  });

  it('keeps other routes’ JSON parsing while streaming blob bodies unparsed', async () => {
    const app = Fastify();
    app.post('/json', async (request) => ({ got: request.body }));
    registerBlobRoutes(app, fx.store);
    await app.ready();
    const json = await app.inject({ method: 'POST', url: '/json', payload: { a: 1 } });
    expect(json.json()).toEqual({ got: { a: 1 } });
    const up = await fx.store.uploadUrl('inject/x.json', {
      contentType: 'application/json',
      expires: inMinutes(5),
    });
    const url = new URL(up.url);
    const put = await app.inject({
      method: 'PUT',
      url: url.pathname + url.search,
      headers: up.headers,
      payload: '{not json',
    });
    expect(put.statusCode).toBe(200);
    expect((await readAll((await fx.store.get('inject/x.json'))!)).toString()).toBe('{not json');
    await app.close();
  });
});
