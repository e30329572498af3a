/**
 * Followers of live logs in this process. One LISTEN (on LIVE_LOG_CHANNEL) serves every
 * follower; the followers of one log share one reader, which on each wake-up reads the new bytes
 * once and hands each follower the part it has not seen. A wake-up comes from an append (in any
 * process) or a change to the task's runs (in this process, see db.saveTaskState); a poll every
 * second covers run changes made by other processes and notifications lost while the LISTEN
 * connection was down.
 */
import type { Logger } from 'pino';
import type { Database } from '../../platform/db/index.ts';
import { LIVE_LOG_CHANNEL, readLog, runInfo } from './live-log-db.ts';

export interface LiveLogFollower {
  /** Byte offset of the next byte this follower needs. */
  offset: number;
  write(data: Buffer): void;
  /** The log is complete (the run is resolved, or the task is gone). */
  end(): void;
  /** Reading failed; the follower must not look complete. */
  fail(err: Error): void;
}

/**
 * How often a followed log is re-checked without any notification: how late a follower in
 * another process than the one that claimed or resolved the run sees it start or end (the
 * queue's state changes notify this process's followers only).
 */
const SAFETY_POLL_MS = 1000;

const RESOLVED = new Set(['completed', 'failed', 'exception']);

class LogWatch {
  readonly followers = new Set<LiveLogFollower>();
  private pumping = false;
  private dirty = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly hub: LiveLogHub,
    readonly taskId: string,
    readonly runId: number,
  ) {
    this.timer = setInterval(() => this.wake(), SAFETY_POLL_MS);
    this.timer.unref();
  }

  wake(): void {
    if (this.pumping) {
      this.dirty = true;
      return;
    }
    this.pumping = true;
    this.pump().finally(() => {
      this.pumping = false;
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async pump(): Promise<void> {
    do {
      this.dirty = false;
      // Followers that join during this pass get a pass of their own (they set `dirty`).
      const batch = [...this.followers];
      if (batch.length === 0) return;
      try {
        // The state is read before the bytes: every append committed before the run was resolved
        // is then visible to the reads below, so "resolved" plus "read to the end" is complete.
        const info = await runInfo(this.hub.database, this.taskId, this.runId);
        for (;;) {
          const live = batch.filter((f) => this.followers.has(f));
          if (live.length === 0) break;
          const from = Math.min(...live.map((f) => f.offset));
          const bytes = await readLog(this.hub.database, this.taskId, this.runId, from);
          if (bytes.length === 0) break;
          const to = from + bytes.length;
          for (const f of live) {
            if (f.offset >= to || !this.followers.has(f)) continue;
            f.write(bytes.subarray(f.offset - from));
            f.offset = to;
          }
        }
        if (!info || info.state === undefined || RESOLVED.has(info.state)) {
          for (const f of batch) {
            if (this.followers.delete(f)) f.end();
          }
        }
      } catch (err) {
        this.hub.logger.warn({ err, taskId: this.taskId, runId: this.runId }, 'reading a live log failed');
        for (const f of batch) {
          if (this.followers.delete(f)) f.fail(err as Error);
        }
      }
      if (this.followers.size === 0) this.hub.forget(this);
    } while (this.dirty);
  }
}

export class LiveLogHub {
  private readonly byTask = new Map<string, Map<number, LogWatch>>();
  private listening: Promise<() => Promise<void>> | undefined;
  private closed = false;

  constructor(
    readonly database: Database,
    readonly logger: Logger,
  ) {}

  /**
   * Streams the log from `follower.offset` until the run is resolved and everything was sent.
   * Returns the function that stops following (call it when the client goes away).
   */
  async follow(taskId: string, runId: number, follower: LiveLogFollower): Promise<() => void> {
    if (this.closed) throw new Error('the live log hub is closed');
    await this.listen();
    let runs = this.byTask.get(taskId);
    if (!runs) {
      runs = new Map();
      this.byTask.set(taskId, runs);
    }
    let watch = runs.get(runId);
    if (!watch) {
      watch = new LogWatch(this, taskId, runId);
      runs.set(runId, watch);
    }
    const w = watch;
    w.followers.add(follower);
    w.wake();
    return () => {
      if (w.followers.delete(follower) && w.followers.size === 0) this.forget(w);
    };
  }

  /** Number of logs followed in this process (for tests and metrics). */
  get watchedLogs(): number {
    let n = 0;
    for (const runs of this.byTask.values()) n += runs.size;
    return n;
  }

  forget(watch: LogWatch): void {
    if (watch.followers.size > 0) return;
    const runs = this.byTask.get(watch.taskId);
    if (runs?.get(watch.runId) !== watch) return;
    watch.stop();
    runs.delete(watch.runId);
    if (runs.size === 0) this.byTask.delete(watch.taskId);
  }

  /** Ends every stream (the server is shutting down: clients re-request with their offset). */
  async close(): Promise<void> {
    this.closed = true;
    for (const runs of this.byTask.values()) {
      for (const watch of runs.values()) {
        watch.stop();
        for (const f of watch.followers) f.fail(new Error('the server is shutting down'));
        watch.followers.clear();
      }
    }
    this.byTask.clear();
    const listening = this.listening;
    this.listening = undefined;
    if (listening) await (await listening.catch(() => async () => {}))();
  }

  private listen(): Promise<unknown> {
    if (!this.listening) {
      this.listening = this.database.listen(
        LIVE_LOG_CHANNEL,
        (taskId) => {
          for (const watch of this.byTask.get(taskId)?.values() ?? []) watch.wake();
        },
        { onReconnect: () => this.wakeAll() },
      );
      // A failed LISTEN is retried by the next follower rather than cached.
      this.listening.catch(() => {
        this.listening = undefined;
      });
    }
    return this.listening;
  }

  private wakeAll(): void {
    for (const runs of this.byTask.values()) for (const watch of runs.values()) watch.wake();
  }
}
