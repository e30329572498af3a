import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';
import yauzl from 'yauzl';
import type { ArchiveFormat, Content } from './payload.ts';
import type { Credentials, QueueClient } from './queue-client.ts';

/** A problem with a task's content (download, checksum, archive): the run fails, with this message. */
export class ContentError extends Error {
  override name = 'ContentError';
}

/** A path of the payload, resolved inside `base`; anything that would leave it is refused. */
export function insideDir(base: string, path: string, what: string): string {
  const full = resolve(base, path);
  const rel = relative(base, full);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    throw new ContentError(`${what} ${JSON.stringify(path)} is outside the task directory`);
  }
  return full;
}

export function describeContent(content: Content): string {
  if ('raw' in content) return 'raw content';
  if ('base64' in content) return 'base64 content';
  if ('url' in content) return `URL ${content.url}`;
  if ('namespace' in content) return `artifact ${content.artifact} of indexed task ${content.namespace}`;
  return `artifact ${content.artifact} of task ${content.taskId}`;
}

async function download(url: string, file: string, what: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    throw new ContentError(`cannot download ${what}: ${(err as Error).message}`, { cause: err });
  }
  if (!res.ok || !res.body) {
    const text = await res.text().catch(() => '');
    throw new ContentError(`cannot download ${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
  }
  await pipeline(
    Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
    createWriteStream(file),
  );
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    createReadStream(file),
    new Transform({
      transform(chunk, _enc, cb) {
        hash.update(chunk);
        cb();
      },
    }),
  );
  return hash.digest('hex');
}

/**
 * Fetches content into `file` and checks its sha256 when the payload gives one. Artifacts are
 * read with the run's credentials (so with the task's scopes).
 */
export async function fetchContent(
  content: Content,
  file: string,
  ctx: { queue: QueueClient; credentials: () => Credentials },
): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const what = describeContent(content);
  if ('raw' in content) await writeFile(file, content.raw, 'utf8');
  else if ('base64' in content) await writeFile(file, Buffer.from(content.base64, 'base64'));
  else if ('url' in content) await download(content.url, file, what);
  else {
    let taskId: string;
    if ('namespace' in content) {
      try {
        taskId = await ctx.queue.findIndexedTask(ctx.credentials(), content.namespace);
      } catch (err) {
        throw new ContentError(`cannot find indexed task ${content.namespace}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    } else taskId = content.taskId;
    await download(ctx.queue.artifactUrl(ctx.credentials(), taskId, 'latest', content.artifact), file, what);
  }
  if (content.sha256) {
    const actual = await sha256Of(file);
    if (actual !== content.sha256) {
      throw new ContentError(`sha256 mismatch for ${what}: expected ${content.sha256}, got ${actual}`);
    }
  }
}

const DECOMPRESSORS: Record<string, string[]> = {
  bz2: ['bzip2', '-dc'],
  xz: ['xz', '-dc'],
  zst: ['zstd', '-dc'],
  lz4: ['lz4', '-dc'],
};

/** Formats this worker can unpack (rar is not among them). */
export const SUPPORTED_ARCHIVES: readonly ArchiveFormat[] = [
  'tar.gz',
  'tar.bz2',
  'tar.xz',
  'tar.zst',
  'tar.lz4',
  'zip',
];

/** Decompresses `src` into `dest` (gz in process, the others with the system's tools). */
export async function decompress(format: string, src: string, dest: string): Promise<void> {
  if (format === 'gz') {
    await pipeline(createReadStream(src), createGunzip(), createWriteStream(dest)).catch((err) => {
      throw new ContentError(`cannot gunzip content: ${(err as Error).message}`, { cause: err });
    });
    return;
  }
  const tool = DECOMPRESSORS[format];
  if (!tool) throw new ContentError(`compression format ${format} is not supported`);
  await new Promise<void>((done, fail) => {
    const child = spawn(tool[0] as string, tool.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', (err) =>
      fail(new ContentError(`cannot run ${tool[0]} to unpack ${format}: ${err.message}`)),
    );
    const out = createWriteStream(dest);
    child.stdout.pipe(out);
    createReadStream(src).pipe(child.stdin);
    child.on('close', (code) => {
      out.on('finish', () => undefined);
      if (code === 0) out.close(() => done());
      else fail(new ContentError(`${tool[0]} could not decompress the content: ${stderr.trim()}`));
    });
  });
}

function unsafeEntry(path: string): boolean {
  const parts = path.split(/[\\/]+/);
  return isAbsolute(path) || /^[A-Za-z]:/.test(path) || parts.includes('..');
}

/** Unpacks an archive into `dir`, refusing any entry (or link) that points outside it. */
export async function unpack(format: ArchiveFormat, archive: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (format === 'zip') return unzip(archive, dir);
  if (!SUPPORTED_ARCHIVES.includes(format))
    throw new ContentError(`archive format ${format} is not supported`);
  let tarFile = archive;
  if (format !== 'tar.gz') {
    tarFile = `${archive}.tar`;
    await decompress(format.slice(4), archive, tarFile);
  }
  const bad: string[] = [];
  try {
    await tar.t({
      file: tarFile,
      onReadEntry: (entry) => {
        const linkOut =
          (entry.type === 'SymbolicLink' || entry.type === 'Link') &&
          entry.linkpath &&
          (isAbsolute(entry.linkpath) ||
            relative(dir, resolve(dir, dirname(entry.path), entry.linkpath)).startsWith('..'));
        if (unsafeEntry(entry.path) || linkOut) bad.push(entry.path);
      },
    });
  } catch (err) {
    throw new ContentError(`cannot read the ${format} archive: ${(err as Error).message}`, { cause: err });
  }
  if (bad.length > 0) {
    throw new ContentError(
      `the ${format} archive has entries that leave its directory: ${bad.slice(0, 5).join(', ')}`,
    );
  }
  try {
    await tar.x({ file: tarFile, cwd: dir, strict: true });
  } catch (err) {
    throw new ContentError(`cannot unpack the ${format} archive: ${(err as Error).message}`, { cause: err });
  }
}

function unzip(archive: string, dir: string): Promise<void> {
  return new Promise((done, fail) => {
    const failWith = (msg: string, cause?: unknown) => fail(new ContentError(msg, { cause }));
    // yauzl refuses absolute names and `..` segments itself (decodeStrings validates each name).
    yauzl.open(archive, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return failWith(`cannot read the zip archive: ${err?.message}`, err);
      zip.on('error', (e: Error) =>
        failWith(
          /invalid relative path|absolute path/.test(e.message)
            ? `the zip archive has entries that leave its directory: ${e.message}`
            : `cannot read the zip archive: ${e.message}`,
          e,
        ),
      );
      zip.on('end', () => done());
      zip.on('entry', (entry: yauzl.Entry) => {
        if (unsafeEntry(entry.fileName)) {
          zip.close();
          return failWith(`the zip archive has entries that leave its directory: ${entry.fileName}`);
        }
        const target = join(dir, entry.fileName);
        if (entry.fileName.endsWith('/')) {
          mkdir(target, { recursive: true }).then(() => zip.readEntry(), fail);
          return;
        }
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return failWith(`cannot read ${entry.fileName} from the zip archive`, e);
          const mode = (entry.externalFileAttributes >>> 16) & 0o777;
          mkdir(dirname(target), { recursive: true })
            .then(() => pipeline(stream, createWriteStream(target, { mode: mode & 0o100 ? 0o755 : 0o644 })))
            .then(
              () => zip.readEntry(),
              (x) => failWith(`cannot write ${entry.fileName}: ${x.message}`, x),
            );
        });
      });
      zip.readEntry();
    });
  });
}
