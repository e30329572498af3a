import pg from 'pg';
import type { Logger } from 'pino';

export interface ListenOptions {
  /**
   * Called after the connection was lost and LISTEN re-established.
   * Notifications sent while disconnected are lost for good, so a consumer
   * that relies on them as a wake-up signal must re-check its state here.
   */
  onReconnect?: () => void;
  /**
   * Called as soon as the connection is found lost, before reconnecting: from then until
   * onReconnect, notifications are being missed.
   */
  onLost?: () => void;
}

export interface ListenerConfig {
  connection: pg.ClientConfig;
  channel: string;
  onNotify: (payload: string) => void;
  options: ListenOptions;
  logger: Logger;
  onClosed: () => void;
  /** Backend pids whose notifications this process delivered itself already (see Database.notifySoon). */
  sentLocally?: ReadonlySet<number>;
}

const MIN_RECONNECT_DELAY_MS = 100;
const MAX_RECONNECT_DELAY_MS = 5000;

/**
 * One LISTEN on a dedicated connection. It cannot come from the pool: a
 * pooled client is handed to other callers and the LISTEN would end with
 * the session it was issued on.
 */
export class Listener {
  private client: pg.Client | null = null;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempts = 0;

  constructor(private readonly cfg: ListenerConfig) {}

  get channel(): string {
    return this.cfg.channel;
  }

  /** Hands a notification of this process to the handler directly, as if it had come from the server. */
  deliverLocally(payload: string): void {
    if (!this.closed) this.safeCall(() => this.cfg.onNotify(payload));
  }

  /** Connects and issues LISTEN; rejects if the first attempt fails so misconfiguration surfaces at once. */
  async start(): Promise<void> {
    await this.connect();
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    const client = this.client;
    this.client = null;
    this.cfg.onClosed();
    if (client) {
      // Ending the session drops the LISTEN; an explicit UNLISTEN would only add a round trip.
      await client.end().catch(() => undefined);
    }
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.cfg.connection);
    // Without an 'error' listener a dropped connection would crash the process.
    client.on('error', (err) => this.handleLost(client, err));
    client.on('end', () => this.handleLost(client, undefined));
    client.on('notification', (msg) => {
      if (this.cfg.sentLocally?.has(msg.processId)) return;
      if (msg.channel === this.cfg.channel && !this.closed) {
        this.safeCall(() => this.cfg.onNotify(msg.payload ?? ''));
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.cfg.channel)}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw new Error(`cannot LISTEN on channel ${this.cfg.channel}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.attempts = 0;
  }

  private handleLost(client: pg.Client, err: Error | undefined): void {
    if (this.closed || this.client !== client) {
      return;
    }
    this.client = null;
    this.cfg.logger.warn({ err, channel: this.cfg.channel }, 'LISTEN connection lost; reconnecting');
    this.safeCall(() => this.cfg.options.onLost?.());
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) {
      return;
    }
    const base = Math.min(MAX_RECONNECT_DELAY_MS, MIN_RECONNECT_DELAY_MS * 2 ** this.attempts);
    this.attempts++;
    // Jitter so many listeners do not reconnect in lockstep after a server restart.
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().then(
        () => {
          if (!this.closed) {
            this.cfg.logger.info({ channel: this.cfg.channel }, 'LISTEN connection re-established');
            this.safeCall(() => this.cfg.options.onReconnect?.());
          }
        },
        (reconnectErr) => {
          this.cfg.logger.warn({ err: reconnectErr, channel: this.cfg.channel }, 'LISTEN reconnect failed');
          this.scheduleReconnect();
        },
      );
    }, delay);
  }

  private safeCall(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.cfg.logger.error({ err, channel: this.cfg.channel }, 'notification handler threw');
    }
  }
}
