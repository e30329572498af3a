import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachesToPurge } from '../services/purge-cache/worker-helper.ts';

interface Instance {
  id: string;
  name: string;
  /** The directory holding the cache's content. */
  dir: string;
  created: Date;
  inUse: boolean;
  /** Delete it once the task using it is done. */
  doomed: boolean;
}

export interface CacheLease {
  name: string;
  dir: string;
  /** True when the cache was just made (preload content goes in now). */
  fresh: boolean;
  release(opts?: { purge?: boolean }): void;
}

/**
 * Named caches of one worker, kept under its cache directory and reused across tasks. A cache is
 * used by one task at a time: a task that wants a cache another running task holds gets a new,
 * empty instance of it (as generic-worker does), and both are kept for later tasks.
 *
 * On disk: `<root>/<name>/<id>/data` is the content, `<root>/<name>/<id>/created` the creation
 * time, so caches survive a restart of the worker.
 */
export class CacheManager {
  private readonly instances = new Map<string, Instance[]>();

  constructor(private readonly root: string) {
    mkdirSync(root, { recursive: true });
    for (const name of readdirSync(root)) {
      for (const id of readdirSync(join(root, name))) {
        const base = join(root, name, id);
        const created = new Date(
          existsSync(join(base, 'created')) ? readFileSync(join(base, 'created'), 'utf8').trim() : NaN,
        );
        if (Number.isNaN(created.getTime()) || !existsSync(join(base, 'data'))) {
          // A cache whose creation never finished is not trusted.
          rmSync(base, { recursive: true, force: true });
          continue;
        }
        this.list(name).push({ id, name, dir: join(base, 'data'), created, inUse: false, doomed: false });
      }
    }
  }

  private list(name: string): Instance[] {
    let list = this.instances.get(name);
    if (!list) {
      list = [];
      this.instances.set(name, list);
    }
    return list;
  }

  acquire(name: string): CacheLease {
    const list = this.list(name);
    let instance = list.find((i) => !i.inUse && !i.doomed);
    let fresh = false;
    if (!instance) {
      const id = randomUUID();
      const base = join(this.root, name, id);
      mkdirSync(join(base, 'data'), { recursive: true });
      const created = new Date();
      writeFileSync(join(base, 'created'), created.toISOString());
      instance = { id, name, dir: join(base, 'data'), created, inUse: false, doomed: false };
      list.push(instance);
      fresh = true;
    }
    instance.inUse = true;
    const held = instance;
    let released = false;
    return {
      name,
      dir: held.dir,
      fresh,
      release: (opts = {}) => {
        if (released) return;
        released = true;
        held.inUse = false;
        if (opts.purge || held.doomed) this.remove(held);
      },
    };
  }

  /** Throws away caches the purge requests name (those in use: once their task is done). */
  applyPurgeRequests(requests: ReadonlyArray<{ cacheName: string; before: string }>): string[] {
    const purged: string[] = [];
    for (const [name, list] of this.instances) {
      for (const instance of [...list]) {
        if (cachesToPurge(requests, new Map([[name, instance.created]])).length === 0) continue;
        purged.push(name);
        if (instance.inUse) instance.doomed = true;
        else this.remove(instance);
      }
    }
    return purged;
  }

  /** The caches on disk, name → instances (for tests and the log). */
  names(): string[] {
    return [...this.instances.entries()].filter(([, l]) => l.length > 0).map(([n]) => n);
  }

  private remove(instance: Instance): void {
    const list = this.list(instance.name);
    const at = list.indexOf(instance);
    if (at >= 0) list.splice(at, 1);
    rmSync(join(this.root, instance.name, instance.id), { recursive: true, force: true });
  }
}
