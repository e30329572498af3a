import { closeSync, openSync, writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { type Credentials, type QueueClient, statusOf } from './queue-client.ts';

/** Flush the live log at least this often while there is something to send. */
const FLUSH_INTERVAL_MS = 500;
/** ...or as soon as this much is waiting. */
const FLUSH_BYTES = 64 * 1024;
/** appendLiveLog takes at most 1 MiB per request; 256 Ki UTF-16 units never exceed that in UTF-8. */
const MAX_CHUNK_UNITS = 256 * 1024;
/** How long close() keeps retrying a failing append before giving up on the live copy. */
const CLOSE_RETRY_MS = 30_000;

export interface LiveLogTarget {
  queue: QueueClient;
  taskId: string;
  runId: number;
  credentials: () => Credentials;
}

/**
 * A run's log: every line gets a timestamp; the whole text goes to a backing file (uploaded at the
 * end) and, when live, is appended to the queue's live log in order, each chunk at its byte
 * offset, so a retried chunk is harmless.
 */
export class TaskLog {
  private readonly fd: number;
  private bytes = 0;
  private pending = '';
  private sentBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private live: LiveLogTarget | undefined;
  private readonly partial = new Map<string, string>();
  private closed = false;

  /** Without `live`, nothing is kept in memory for a live copy. */
  constructor(
    readonly path: string,
    private readonly logger: Logger,
    private wantLive = true,
  ) {
    this.fd = openSync(path, 'w', 0o600);
  }

  /** No live copy for this run (features.liveLog false, or the live artifact failed). */
  disableLive(): void {
    this.wantLive = false;
    this.live = undefined;
    this.pending = '';
  }

  /** Starts appending to the queue's live log (what was written so far goes first). */
  startLive(target: LiveLogTarget): void {
    this.live = target;
    this.schedule();
  }

  get length(): number {
    return this.bytes;
  }

  /** A line from the worker itself. */
  worker(text: string): void {
    for (const line of text.split('\n')) this.append(`[taskyard ${new Date().toISOString()}] ${line}\n`);
  }

  /** Output of the task; `stream` keeps stdout's and stderr's partial lines apart. */
  output(stream: string, chunk: string): void {
    const text = (this.partial.get(stream) ?? '') + chunk;
    const lines = text.split('\n');
    this.partial.set(stream, lines.pop() ?? '');
    for (const line of lines) this.append(`[${new Date().toISOString()}] ${line}\n`);
  }

  /** Writes out any unterminated last line of the task's output. */
  endOutput(): void {
    for (const [stream, rest] of this.partial) {
      if (rest !== '') this.append(`[${new Date().toISOString()}] ${rest}\n`);
      this.partial.delete(stream);
    }
  }

  private append(text: string): void {
    if (this.closed) return;
    const buf = Buffer.from(text, 'utf8');
    writeSync(this.fd, buf);
    this.bytes += buf.length;
    if (!this.wantLive) return;
    this.pending += text;
    if (!this.live) return;
    if (Buffer.byteLength(this.pending) >= FLUSH_BYTES) this.flushSoon(0);
    else this.schedule();
  }

  private schedule(): void {
    this.flushSoon(FLUSH_INTERVAL_MS);
  }

  private flushSoon(ms: number): void {
    if (!this.live || this.sending) return;
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sending = this.send(Date.now() + 3_600_000).finally(() => {
        this.sending = undefined;
        if (this.pending !== '') this.schedule();
      });
    }, ms);
  }

  /** Sends what is pending, chunk by chunk; a failed chunk is retried at the same offset until `until`. */
  private async send(until: number): Promise<void> {
    let attempt = 0;
    while (this.live && this.pending !== '') {
      let end = Math.min(this.pending.length, MAX_CHUNK_UNITS);
      const last = this.pending.charCodeAt(end - 1);
      if (end < this.pending.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
      const data = this.pending.slice(0, end);
      const target = this.live;
      try {
        const res = await target.queue.appendLiveLog(target.credentials(), target.taskId, target.runId, {
          offset: this.sentBytes,
          data,
        });
        this.sentBytes += Buffer.byteLength(data);
        this.pending = this.pending.slice(end);
        attempt = 0;
        if (res.length !== this.sentBytes) {
          this.logger.warn(
            { length: res.length, sent: this.sentBytes },
            'live log length differs from what was sent',
          );
        }
      } catch (err) {
        const status = statusOf(err);
        // 4xx other than 429 will not get better by retrying (run resolved, cap reached, no endpoint).
        if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
          this.logger.warn({ err, status }, 'live log append refused; the backing log stays complete');
          this.live = undefined;
          return;
        }
        attempt += 1;
        const delay = Math.min(5_000, 100 * 2 ** attempt);
        if (Date.now() + delay > until) {
          this.logger.warn({ err }, 'live log append keeps failing; giving up on the live copy');
          this.live = undefined;
          return;
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Sends everything that is left (bounded time) and closes the backing file. */
  async close(): Promise<void> {
    this.endOutput();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.sending) await this.sending;
    if (this.live && this.pending !== '') await this.send(Date.now() + CLOSE_RETRY_MS);
    this.live = undefined;
    if (!this.closed) {
      this.closed = true;
      closeSync(this.fd);
    }
  }
}
