import { createReadStream } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { extname, join, relative, sep } from 'node:path';
import type { Credentials, QueueClient } from './queue-client.ts';

const TYPES: Record<string, string> = {
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.xml': 'application/xml',
  '.yml': 'text/yaml',
  '.yaml': 'text/yaml',
  '.csv': 'text/csv',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.pdf': 'application/pdf',
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
  '.bz2': 'application/x-bzip2',
  '.xz': 'application/x-xz',
  '.zst': 'application/zstd',
  '.zip': 'application/zip',
  '.tar': 'application/x-tar',
  '.wasm': 'application/wasm',
};

/** A content type from the file's extension (application/octet-stream when unknown). */
export function guessContentType(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

function put(url: string, file: string, size: number, contentType: string): Promise<void> {
  return new Promise((done, fail) => {
    const target = new URL(url);
    const req = (target.protocol === 'https:' ? https : http).request(
      target,
      { method: 'PUT', headers: { 'content-type': contentType, 'content-length': String(size) } },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => {
          if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) done();
          else fail(new Error(`upload answered HTTP ${res.statusCode}: ${body.slice(0, 300)}`));
        });
      },
    );
    req.on('error', fail);
    createReadStream(file).on('error', fail).pipe(req);
  });
}

export interface UploadContext {
  queue: QueueClient;
  taskId: string;
  runId: number;
  credentials: () => Credentials;
}

/** Creates an s3 artifact for a file and uploads its bytes (retried a few times). */
export async function uploadFile(
  ctx: UploadContext,
  name: string,
  file: string,
  opts: { contentType: string; expires: string },
): Promise<void> {
  const { size } = await stat(file);
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    const res = await ctx.queue.createArtifact(ctx.credentials(), ctx.taskId, ctx.runId, name, {
      storageType: 's3',
      expires: opts.expires,
      contentType: opts.contentType,
      contentLength: size,
    });
    if (!res.putUrl) throw new Error(`createArtifact for ${name} gave no upload URL`);
    try {
      await put(res.putUrl, file, size, opts.contentType);
      return;
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`cannot upload artifact ${name}: ${(lastError as Error).message}`, { cause: lastError });
}

/** An `error` artifact in place of one the task did not produce. */
export async function errorArtifact(
  ctx: UploadContext,
  name: string,
  message: string,
  expires: string,
  reason: 'file-missing-on-worker' | 'invalid-resource-on-worker' = 'file-missing-on-worker',
): Promise<void> {
  await ctx.queue.createArtifact(ctx.credentials(), ctx.taskId, ctx.runId, name, {
    storageType: 'error',
    expires,
    reason,
    message,
  });
}

/** Every regular file under `dir`, as paths relative to it with forward slashes. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) out.push(relative(dir, full).split(sep).join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

/** What is at a path: a file, a directory, or nothing (symlinks are not followed out). */
export async function kindOf(path: string): Promise<'file' | 'directory' | 'missing' | 'other'> {
  try {
    const s = await lstat(path);
    return s.isFile() ? 'file' : s.isDirectory() ? 'directory' : 'other';
  } catch {
    return 'missing';
  }
}
