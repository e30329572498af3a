/**
 * What every BlobStore must do, whichever backend: the same tests run against the filesystem
 * store (served by Taskyard's own routes) and the S3 store (against a local S3 server).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BlobStore, InvalidBlobKeyError } from '../../../src/platform/blob/index.ts';

export interface ContractFixture {
  store: BlobStore;
  /** Moves the store's clock (milliseconds added to the real one). */
  setClockOffset(ms: number): void;
  close(): Promise<void>;
}

export const inMinutes = (n: number) => new Date(Date.now() + n * 60_000);

export async function readAll(stream: NodeJS.ReadableStream | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Uint8Array | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

export async function uploadTo(store: BlobStore, key: string, body: Buffer | string, contentType: string) {
  const up = await store.uploadUrl(key, { contentType, expires: inMinutes(5) });
  const res = await fetch(up.url, { method: up.method, headers: up.headers, body });
  expect(res.status, await res.clone().text()).toBe(200);
}

export const PATH_TRICKS = [
  '../x',
  'a/../../x',
  '..',
  'a/..',
  './a',
  'a/./b',
  '/etc/passwd',
  '/abs',
  'a//b',
  'a/',
  '',
  'a\\..\\..\\x',
  '..\\x',
  'a\u0000b',
  'a\nb',
  'a\u007fb',
];

export function blobStoreContract(name: string, makeFixture: () => Promise<ContractFixture>) {
  describe(`${name}: the BlobStore contract`, () => {
    let fx: ContractFixture;
    let store: BlobStore;
    beforeAll(async () => {
      fx = await makeFixture();
      store = fx.store;
    });
    afterAll(async () => fx?.close());

    it('returns the same bytes and content type downloaded via a signed URL as were uploaded via one', async () => {
      const bytes = randomBytes(100_000);
      const key = 'Q2hlY2tpbmcgaXQgb3V0/0/public/build/target.tar.gz';
      await uploadTo(store, key, bytes, 'application/gzip');
      expect(await store.head(key)).toEqual({ size: bytes.length, contentType: 'application/gzip' });
      const res = await fetch(await store.downloadUrl(key, { expires: inMinutes(5) }));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/gzip');
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    });

    it('round-trips keys with spaces, unicode and URL-special characters', async () => {
      const key = 'task/0/public/my file #1?x=%41&y é 日本.txt';
      await uploadTo(store, key, 'odd name', 'text/plain');
      const res = await fetch(await store.downloadUrl(key, { expires: inMinutes(5) }));
      expect(await res.text()).toBe('odd name');
    });

    it('reports no blob for a key never written', async () => {
      expect(await store.head('nothing/here')).toBeUndefined();
      expect(await store.get('nothing/here')).toBeUndefined();
    });

    it('streams bytes in with put and out with get', async () => {
      const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(10_000, i));
      await store.put('task/0/public/logs/live.log', Readable.from(parts), { contentType: 'text/plain' });
      const out = await store.get('task/0/public/logs/live.log');
      expect(out).toBeDefined();
      expect((await readAll(out!)).equals(Buffer.concat(parts))).toBe(true);
      await store.put('task/0/small.json', '{"a":1}', { contentType: 'application/json' });
      expect(await store.head('task/0/small.json')).toEqual({ size: 7, contentType: 'application/json' });
      await store.put('task/0/small.json', Buffer.from('{"a":22}'), { contentType: 'application/json' });
      expect((await readAll((await store.get('task/0/small.json'))!)).toString()).toBe('{"a":22}');
    });

    it('keeps a key and a key below it apart', async () => {
      await store.put('nest/a', 'outer', { contentType: 'text/plain' });
      await store.put('nest/a/b', 'inner', { contentType: 'text/plain' });
      expect((await readAll((await store.get('nest/a'))!)).toString()).toBe('outer');
      expect((await readAll((await store.get('nest/a/b'))!)).toString()).toBe('inner');
    });

    it('refuses an expired download or upload URL', async () => {
      await uploadTo(store, 'exp/blob', 'x', 'text/plain');
      fx.setClockOffset(-10 * 60_000);
      const expires = new Date(Date.now() - 9 * 60_000);
      const down = await store.downloadUrl('exp/blob', { expires });
      const up = await store.uploadUrl('exp/other', { contentType: 'text/plain', expires });
      fx.setClockOffset(0);
      expect([403, 410]).toContain((await fetch(down)).status);
      const put = await fetch(up.url, { method: 'PUT', headers: up.headers, body: 'y' });
      expect([403, 410]).toContain(put.status);
      expect(await store.head('exp/other')).toBeUndefined();
    });

    it('refuses a tampered signature', async () => {
      await uploadTo(store, 'sig/blob', 'secret', 'text/plain');
      const url = new URL(await store.downloadUrl('sig/blob', { expires: inMinutes(5) }));
      const param = url.searchParams.has('signature') ? 'signature' : 'X-Amz-Signature';
      const sig = url.searchParams.get(param)!;
      url.searchParams.set(param, (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
      const res = await fetch(url);
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain('secret');
    });

    it('refuses a URL used with another method than it was signed for', async () => {
      await uploadTo(store, 'method/blob', 'original', 'text/plain');
      const down = await store.downloadUrl('method/blob', { expires: inMinutes(5) });
      const put = await fetch(down, {
        method: 'PUT',
        headers: { 'content-type': 'text/plain' },
        body: 'evil',
      });
      expect(put.status).toBe(403);
      const up = await store.uploadUrl('method/blob', { contentType: 'text/plain', expires: inMinutes(5) });
      expect((await fetch(up.url)).status).toBe(403);
      expect((await readAll((await store.get('method/blob'))!)).toString()).toBe('original');
    });

    it('refuses an upload URL for key A used to write key B', async () => {
      const up = await store.uploadUrl('keys/A', { contentType: 'text/plain', expires: inMinutes(5) });
      const url = new URL(up.url);
      url.pathname = url.pathname.replace(/\/A$/, '/B');
      const res = await fetch(url, { method: 'PUT', headers: up.headers, body: 'not B' });
      expect(res.status).toBe(403);
      expect(await store.head('keys/B')).toBeUndefined();
      expect(await store.head('keys/A')).toBeUndefined();
    });

    it('refuses an upload with another content type than signed', async () => {
      const up = await store.uploadUrl('ctype/blob', { contentType: 'text/plain', expires: inMinutes(5) });
      const res = await fetch(up.url, {
        method: 'PUT',
        headers: { 'content-type': 'text/html' },
        body: '<b>',
      });
      expect(res.status).toBe(403);
      expect(await store.head('ctype/blob')).toBeUndefined();
    });

    it('binds an upload URL to its length when one is given', async () => {
      const up = await store.uploadUrl('len/blob', {
        contentType: 'application/octet-stream',
        contentLength: 5,
        expires: inMinutes(5),
      });
      expect(up.headers['content-length']).toBe('5');
      // fetch sets content-length from the body (7), not from the URL's signed length (5).
      const wrong = await fetch(up.url, {
        method: 'PUT',
        headers: { 'content-type': up.headers['content-type'] },
        body: 'toolong',
      });
      expect(wrong.status).toBe(403);
      expect(await store.head('len/blob')).toBeUndefined();
      const right = await fetch(up.url, { method: 'PUT', headers: up.headers, body: '12345' });
      expect(right.status).toBe(200);
      expect((await store.head('len/blob'))?.size).toBe(5);
    });

    it('serves Range requests for resumable downloads', async () => {
      const bytes = Buffer.from('0123456789abcdefghij');
      await uploadTo(store, 'range/blob', bytes, 'application/octet-stream');
      const url = await store.downloadUrl('range/blob', { expires: inMinutes(5) });
      const first = await fetch(url, { headers: { range: 'bytes=0-4' } });
      expect(first.status).toBe(206);
      expect(first.headers.get('content-range')).toBe('bytes 0-4/20');
      expect(await first.text()).toBe('01234');
      const rest = await fetch(url, { headers: { range: 'bytes=15-' } });
      expect(rest.status).toBe(206);
      expect(await rest.text()).toBe('fghij');
      const beyond = await fetch(url, { headers: { range: 'bytes=50-60' } });
      expect(beyond.status).toBe(416);
    });

    it('deletes blobs, ignoring keys that do not exist', async () => {
      await store.put('del/1', 'one', { contentType: 'text/plain' });
      await store.put('del/2', 'two', { contentType: 'text/plain' });
      const url = await store.downloadUrl('del/1', { expires: inMinutes(5) });
      await store.delete(['del/1', 'del/2', 'del/never-existed']);
      expect(await store.head('del/1')).toBeUndefined();
      expect(await store.head('del/2')).toBeUndefined();
      expect((await fetch(url)).status).toBe(404);
      await store.delete([]);
    });

    it('deletes nothing when one key in the list is invalid', async () => {
      await store.put('del/kept', 'kept', { contentType: 'text/plain' });
      await expect(store.delete(['del/kept', '../escape'])).rejects.toBeInstanceOf(InvalidBlobKeyError);
      expect(await store.head('del/kept')).toBeDefined();
    });

    it('refuses keys that could escape the store, naming the key', async () => {
      const opts = { contentType: 'text/plain', expires: inMinutes(5) };
      for (const key of PATH_TRICKS) {
        const expectInvalid = async (p: Promise<unknown>) => {
          const err = await p.then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err, JSON.stringify(key)).toBeInstanceOf(InvalidBlobKeyError);
          expect((err as InvalidBlobKeyError).key).toBe(key);
          expect((err as Error).message).toContain(JSON.stringify(key));
        };
        await expectInvalid(store.uploadUrl(key, opts));
        await expectInvalid(store.downloadUrl(key, opts));
        await expectInvalid(store.head(key));
        await expectInvalid(store.put(key, 'x', opts));
        await expectInvalid(store.get(key));
        await expectInvalid(store.delete([key]));
      }
    });
  });
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
