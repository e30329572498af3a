import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { expect, it } from 'vitest';
import { FilesystemBlobStore, registerBlobRoutes } from '../../../src/platform/blob/index.ts';

const MiB = 1024 * 1024;
const TOTAL = 200 * MiB;
const CHUNK = MiB;
const execFileAsync = promisify(execFile);

/** Samples the process's resident set size until stopped, keeping the peak. */
function watchRss() {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

/**
 * The uploader runs in a child process, as a worker would, so the RSS measured here is the
 * server's alone. (It has to: Node 20's built-in fetch keeps every chunk of a streamed request
 * body until the request completes, so an in-process fetch client would itself grow by the
 * upload's size whatever the server does.) It sends TOTAL bytes made on the fly with fetch and a
 * `duplex: 'half'` stream body, and reports the status and the bytes' SHA-256.
 */
async function uploadFromChild(url: string, headers: Record<string, string>) {
  const script = `
    import { createHash, randomBytes } from 'node:crypto';
    const [url, headers] = [process.argv[1], JSON.parse(process.argv[2])];
    const total = ${TOTAL}, chunkSize = ${CHUNK};
    const seed = randomBytes(chunkSize);
    const hash = createHash('sha256');
    let produced = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (produced >= total) return controller.close();
        const chunk = Buffer.from(seed);
        chunk.writeUInt32BE(produced / chunkSize, 0);
        hash.update(chunk);
        produced += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(url, { method: 'PUT', headers, body, duplex: 'half' });
    await res.arrayBuffer();
    process.stdout.write(JSON.stringify({ status: res.status, sha256: hash.digest('hex') }));
  `;
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--input-type=module', '-e', script, url, JSON.stringify(headers)],
    { maxBuffer: 1024 * 1024 },
  );
  return JSON.parse(stdout) as { status: number; sha256: string };
}

it('streams a 200 MB upload and its download through the HTTP routes in constant memory', async () => {
  const parent = await mkdtemp(join(tmpdir(), 'taskyard-blob-large-'));
  const app = Fastify();
  let baseUrl = '';
  const store = new FilesystemBlobStore({
    root: join(parent, 'blobs'),
    baseUrl: () => baseUrl,
    secret: randomBytes(32),
  });
  registerBlobRoutes(app, store);
  await app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/blobs`;
  try {
    const key = 'large/0/public/big.bin';
    const up = await store.uploadUrl(key, {
      contentType: 'application/octet-stream',
      expires: new Date(Date.now() + 60_000),
    });
    const before = process.memoryUsage.rss();
    const watch = watchRss();
    const started = Date.now();
    const sent = await uploadFromChild(up.url, up.headers);
    expect(sent.status).toBe(200);
    const uploadMs = Date.now() - started;
    const uploadGrowth = watch.stop() - before;
    expect(await store.head(key)).toEqual({ size: TOTAL, contentType: 'application/octet-stream' });

    const downloadBefore = process.memoryUsage.rss();
    const watchDown = watchRss();
    const down = await fetch(await store.downloadUrl(key, { expires: new Date(Date.now() + 60_000) }));
    expect(down.status).toBe(200);
    expect(down.headers.get('content-length')).toBe(String(TOTAL));
    const gotHash = createHash('sha256');
    let received = 0;
    for await (const chunk of down.body as unknown as AsyncIterable<Uint8Array>) {
      gotHash.update(chunk);
      received += chunk.length;
    }
    const downloadGrowth = watchDown.stop() - downloadBefore;
    expect(received).toBe(TOTAL);
    expect(gotHash.digest('hex')).toBe(sent.sha256);

    console.log(
      `200 MB upload: ${uploadMs} ms, peak RSS growth ${(uploadGrowth / MiB).toFixed(1)} MiB; ` +
        `download: peak RSS growth ${(downloadGrowth / MiB).toFixed(1)} MiB`,
    );
    expect(uploadGrowth).toBeLessThan(100 * MiB);
    expect(downloadGrowth).toBeLessThan(100 * MiB);
  } finally {
    await app.close();
    await rm(parent, { recursive: true, force: true });
  }
}, 60_000);
