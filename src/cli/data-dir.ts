import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import slugid from 'slugid';
import { isAlive } from '../platform/process.ts';
import { UserError } from './fail.ts';

/**
 * The files `taskyard up` keeps in its data directory beside PostgreSQL's: a lock (one `up` per
 * directory), the key that encrypts access tokens, and the root credentials. Secrets are 0600.
 */
export class DataDir {
  readonly path: string;

  constructor(dir: string) {
    this.path = resolve(dir);
    // 0711: when run as root, PostgreSQL runs as another user that must pass through to postgres/.
    mkdirSync(this.path, { recursive: true, mode: 0o711 });
  }

  get postgresDir(): string {
    return join(this.path, 'postgres');
  }

  /** Takes the directory for this process; fails clearly if a live `up` holds it. */
  lock(): () => void {
    const file = join(this.path, 'taskyard.pid');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return () => {
          try {
            unlinkSync(file);
          } catch {
            // already gone
          }
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number(readFileSync(file, 'utf8').trim());
        if (pid > 0 && pid !== process.pid && isAlive(pid)) {
          throw new UserError(
            `Taskyard is already running on ${this.path} (pid ${pid}); stop it first, or use another --data-dir`,
          );
        }
        unlinkSync(file); // left by a process that died
      }
    }
    throw new UserError(`could not lock ${this.path}`);
  }

  private readJson<T>(name: string): T | undefined {
    try {
      return JSON.parse(readFileSync(join(this.path, name), 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new UserError(
        `${join(this.path, name)} is unreadable (${(err as Error).message}); fix or remove it`,
      );
    }
  }

  private writeSecret(name: string, value: unknown): void {
    writeFileSync(join(this.path, name), `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  }

  /** A secret kept in secrets.json, made by `make` on first use and the same ever after. */
  secret(name: string, make: () => string): string {
    const existing = this.readJson<Record<string, string>>('secrets.json') ?? {};
    if (existing[name]) return existing[name];
    const value = make();
    this.writeSecret('secrets.json', { ...existing, [name]: value });
    return value;
  }

  /**
   * Runs `step` unless it already ran for this data dir (recorded in setup.json): first-start
   * set-up that a user may undo afterwards without `up` doing it again.
   */
  async once(name: string, step: () => Promise<void>): Promise<void> {
    const done = this.readJson<Record<string, string>>('setup.json') ?? {};
    if (done[name]) return;
    await step();
    this.writeSecret('setup.json', { ...done, [name]: new Date().toJSON() });
  }

  /** The root client's credentials, made on first start and kept. */
  rootCredentials(): { clientId: string; accessToken: string } {
    const existing = this.readJson<{ clientId?: string; accessToken?: string }>('credentials.json');
    return {
      clientId: existing?.clientId ?? 'static/taskcluster/root',
      accessToken: existing?.accessToken ?? slugid.v4() + slugid.v4(),
    };
  }

  /** Writes credentials.json, the file clients and the CLI read; returns its path. */
  writeCredentials(rootUrl: string, creds: { clientId: string; accessToken: string }): string {
    this.writeSecret('credentials.json', {
      rootUrl,
      clientId: creds.clientId,
      accessToken: creds.accessToken,
    });
    return join(this.path, 'credentials.json');
  }
}
