import IRC, { type Client, type IrcMessage } from 'irc-framework';
import type { Logger } from 'pino';

export interface IrcConfig {
  server: string;
  port: number;
  nick: string;
  tls?: boolean;
  password?: string;
  realname?: string;
}

export interface IrcSender {
  /** `channel` includes its leading '#' (or '&'). */
  sendToChannel(channel: string, message: string): Promise<void>;
  sendToUser(nick: string, message: string): Promise<void>;
  close(): Promise<void>;
}

/** Tuning; the defaults suit public networks. */
export interface IrcSenderOptions {
  /** How long one send may wait, once its turn comes, for the connection, the join and the server (ms). */
  timeoutMs?: number;
  /** Lines written back to back before pacing starts; then one line per `lineIntervalMs`. */
  burstLines?: number;
  lineIntervalMs?: number;
  /** Channels kept joined at most (also capped by the server's CHANLIMIT); the least recently used is parted. */
  maxChannels?: number;
  /** A message needing more lines than this is refused. */
  maxLines?: number;
  /** Reconnect backoff after a disconnect or a failed attempt, doubling from min to max (ms). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Verify the server's TLS certificate (default true). */
  rejectUnauthorized?: boolean;
}

const DEFAULTS: Required<IrcSenderOptions> = {
  timeoutMs: 30_000,
  burstLines: 4,
  lineIntervalMs: 1_000,
  maxChannels: 20,
  maxLines: 16,
  reconnectMinMs: 1_000,
  reconnectMaxMs: 60_000,
  rejectUnauthorized: true,
};

/**
 * `retryable` tells the caller whether delivering the same notification later can succeed
 * (server unreachable, connection lost, shutting down) or not (bad input, no such nick, banned).
 */
export type IrcErrorKind =
  | 'invalid-input'
  | 'no-such-nick'
  | 'cannot-join'
  | 'cannot-send'
  | 'timeout'
  | 'registration-failed'
  | 'connection-lost'
  | 'closed';

export class IrcError extends Error {
  readonly kind: IrcErrorKind;
  readonly retryable: boolean;

  constructor(kind: IrcErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IrcError';
    this.kind = kind;
    this.retryable = ['timeout', 'registration-failed', 'connection-lost', 'closed'].includes(kind);
  }
}

const isControl = (cp: number) => cp < 0x20 || cp === 0x7f;

/** RFC 2812 channel syntax, as Taskcluster's schema has it: '#' or '&', then no space, comma or control character. */
export function assertValidChannel(channel: string): void {
  const body = [...channel.slice(1)];
  const ok =
    typeof channel === 'string' &&
    (channel.startsWith('#') || channel.startsWith('&')) &&
    body.length >= 1 &&
    body.length <= 199 &&
    body.every((c) => c !== ' ' && c !== ',' && !isControl(c.codePointAt(0)!));
  if (!ok) {
    throw new IrcError(
      'invalid-input',
      `invalid IRC channel ${JSON.stringify(channel)}: it must start with # or &, be 2 to 200 characters ` +
        'long, and contain no space, comma or control character',
    );
  }
}

const NICK = /^[A-Za-z[\]\\`_^{|}~][A-Za-z0-9\-[\]\\`_^{|}~]{0,254}$/;

/** IRC nick syntax: a letter or one of []\`_^{|}~, then also digits and '-', at most 255 characters. */
export function assertValidNick(nick: string): void {
  if (typeof nick !== 'string' || !NICK.test(nick)) {
    throw new IrcError(
      'invalid-input',
      `invalid IRC nick ${JSON.stringify(nick)}: it must start with a letter or one of []\\\`_^{|}~, ` +
        "continue with letters, digits, '-' or those characters, and be at most 255 characters long",
    );
  }
}

// Formatting codes (bold, colour, hex colour, reset, monospace, reverse, italic, strike,
// underline) and tab are kept; every other C0 control, DEL included, is dropped. NUL, CR and LF
// would end or corrupt the protocol line; \x01 would turn the message into a CTCP request.
const KEPT_CONTROLS = new Set([0x02, 0x03, 0x04, 0x09, 0x0f, 0x11, 0x16, 0x1d, 0x1e, 0x1f]);
const LINE_BREAKS = new Set([0x0a, 0x0d, 0x85, 0x2028, 0x2029]);

/** Makes text safe as one IRC trailing parameter: line breaks become one space, controls are dropped. */
export function sanitizeIrcText(text: string): string {
  let out = '';
  let afterBreak = false;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (LINE_BREAKS.has(cp)) {
      if (!afterBreak) out += ' ';
      afterBreak = true;
      continue;
    }
    afterBreak = false;
    if (isControl(cp) && !KEPT_CONTROLS.has(cp)) continue;
    // A lone surrogate cannot be encoded in UTF-8.
    out += cp >= 0xd800 && cp <= 0xdfff ? '\ufffd' : ch;
  }
  return out;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Splits text into pieces of at most `maxBytes` UTF-8 bytes whose concatenation is the text.
 * Breaks before a space when one lies in the second half of a piece (servers trim trailing
 * spaces, so a space ending a line would be lost), never inside a character,
 * and inside a grapheme cluster only when the cluster alone is longer than a piece.
 */
export function splitIrcText(text: string, maxBytes: number): string[] {
  const pieces: string[] = [];
  let current = '';
  let currentBytes = 0;
  let breakAt = -1; // index in `current` of its last space
  let breakBytes = 0;

  const add = (unit: string, bytes: number) => {
    if (currentBytes + bytes > maxBytes && current) {
      if (breakAt > 0 && breakBytes * 2 >= maxBytes) {
        pieces.push(current.slice(0, breakAt));
        current = current.slice(breakAt);
        currentBytes -= breakBytes;
      }
      if (currentBytes + bytes > maxBytes) {
        pieces.push(current);
        current = '';
        currentBytes = 0;
      }
      breakAt = -1;
    }
    if (unit === ' ') {
      breakAt = current.length;
      breakBytes = currentBytes;
    }
    current += unit;
    currentBytes += bytes;
  };

  for (const { segment } of segmenter.segment(text)) {
    const bytes = Buffer.byteLength(segment);
    if (bytes <= maxBytes) add(segment, bytes);
    else for (const ch of segment) add(ch, Buffer.byteLength(ch));
  }
  if (current) pieces.push(current);
  return pieces;
}

// Readers receive ":nick!user@host PRIVMSG target :text\r\n", which must fit in 512 bytes.
// The server picks user and host; allow 11 bytes for the user ('~' + 10) and 63 for the host.
const PREFIX_ALLOWANCE = 1 + 1 + 11 + 1 + 63 + 1;
// Room for the suffix added to the nick when it is in use.
const NICK_SUFFIX_ROOM = 3;
const MIN_LINE_BYTES = 64;

export function ircLineBudget(nick: string, target: string): number {
  return (
    512 -
    2 -
    PREFIX_ALLOWANCE -
    Buffer.byteLength(nick) -
    NICK_SUFFIX_ROOM -
    Buffer.byteLength(`PRIVMSG ${target} :`)
  );
}

// Replies that mean a JOIN failed, and that a PRIVMSG was refused.
const JOIN_ERRORS: Record<string, string> = {
  '403': 'ERR_NOSUCHCHANNEL',
  '405': 'ERR_TOOMANYCHANNELS',
  '437': 'ERR_UNAVAILRESOURCE',
  '471': 'ERR_CHANNELISFULL',
  '473': 'ERR_INVITEONLYCHAN',
  '474': 'ERR_BANNEDFROMCHAN',
  '475': 'ERR_BADCHANNELKEY',
  '476': 'ERR_BADCHANMASK',
  '477': 'ERR_NEEDREGGEDNICK',
  '479': 'ERR_BADCHANNAME',
  '489': 'ERR_SECUREONLYCHAN',
};
const SEND_ERRORS: Record<string, string> = {
  '401': 'ERR_NOSUCHNICK',
  '403': 'ERR_NOSUCHCHANNEL',
  '404': 'ERR_CANNOTSENDTOCHAN',
  '407': 'ERR_TOOMANYTARGETS',
  '412': 'ERR_NOTEXTTOSEND',
  '477': 'ERR_NEEDREGGEDNICK',
  '486': 'ERR_NONONREG',
  '531': 'ERR_CANNOTSENDTOUSER',
};

interface Waiter {
  resolve(client: Client): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** The one exchange in flight: it sees every server message until its PING is answered. */
interface Exchange {
  onMessage(message: IrcMessage): void;
  fail(err: Error): void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class IrcConnection implements IrcSender {
  private readonly opts: Required<IrcSenderOptions>;
  private readonly where: string;
  private client: Client | null = null;
  private registered = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private lastAttemptAt = 0;
  private lastError: string | null = null;
  private readonly waiters = new Set<Waiter>();
  /** Joined channels by case-folded name, least recently used first. */
  private readonly joined = new Map<string, string>();
  private exchange: Exchange | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private pings = 0;
  private tokens: number;
  private tokensAt = Date.now();

  constructor(
    private readonly config: IrcConfig,
    private readonly log: Logger,
    options: IrcSenderOptions,
  ) {
    this.opts = { ...DEFAULTS, ...options };
    this.tokens = this.opts.burstLines;
    this.where = `${config.server}:${config.port}`;
    assertValidNick(config.nick);
    if (ircLineBudget(config.nick, `#${'x'.repeat(49)}`) < MIN_LINE_BYTES) {
      throw new IrcError('invalid-input', `IRC nick ${JSON.stringify(config.nick)} is too long`);
    }
  }

  sendToChannel(channel: string, message: string): Promise<void> {
    return this.send(channel, message, true);
  }

  sendToUser(nick: string, message: string): Promise<void> {
    return this.send(nick, message, false);
  }

  private async send(target: string, message: string, isChannel: boolean): Promise<void> {
    if (isChannel) assertValidChannel(target);
    else assertValidNick(target);
    const lines = this.prepare(target, message);
    // One send at a time: replies are matched to the send in flight, and order is kept.
    const run = this.queue.then(async () => {
      const deadline = Date.now() + this.opts.timeoutMs;
      const client = await this.ready(deadline);
      if (isChannel) await this.join(client, target, deadline);
      await this.deliver(client, target, lines, deadline);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private prepare(target: string, message: string): string[] {
    if (typeof message !== 'string') throw new IrcError('invalid-input', 'IRC message must be a string');
    const text = sanitizeIrcText(message);
    if (!text.trim()) {
      throw new IrcError(
        'invalid-input',
        'IRC message is empty (after removing line breaks and control characters)',
      );
    }
    const budget = ircLineBudget(this.config.nick, target);
    if (budget < MIN_LINE_BYTES) {
      throw new IrcError('invalid-input', `IRC target ${JSON.stringify(target)} is too long`);
    }
    const lines = splitIrcText(text, budget);
    if (lines.length > this.opts.maxLines) {
      throw new IrcError(
        'invalid-input',
        `IRC message too long: it needs ${lines.length} lines of at most ${budget} bytes, ` +
          `and at most ${this.opts.maxLines} are sent`,
      );
    }
    return lines;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      this.clearReconnect();
      const err = new IrcError('closed', 'the IRC sender is closed');
      for (const waiter of this.waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(err);
      }
      this.waiters.clear();
      this.exchange?.fail(err);
      const client = this.client;
      this.client = null;
      if (!client) return;
      if (this.registered) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            client.connection.end(undefined, true);
            resolve();
          }, 5_000);
          client.once('socket close', () => {
            clearTimeout(timer);
            resolve();
          });
          client.quit('Taskyard notify is shutting down');
        });
      } else {
        client.connection.end(undefined, true);
      }
      this.registered = false;
      client.removeAllListeners();
      this.log.info({ server: this.where }, 'IRC sender closed');
    })();
    return this.closing;
  }

  /** Resolves with a registered client, connecting (or hurrying a reconnect) when needed. */
  private ready(deadline: number): Promise<Client> {
    if (this.closed) return Promise.reject(new IrcError('closed', 'the IRC sender is closed'));
    if (this.client && this.registered) return Promise.resolve(this.client);
    return new Promise<Client>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(
          () => {
            this.waiters.delete(waiter);
            const last = this.lastError ? ` (last error: ${this.lastError})` : '';
            reject(
              new IrcError(
                'timeout',
                `could not connect to the IRC server ${this.where} within ${this.opts.timeoutMs} ms${last}`,
              ),
            );
          },
          Math.max(0, deadline - Date.now()),
        ),
      };
      this.waiters.add(waiter);
      if (!this.client) {
        // A send is waiting: try again now, but never sooner than reconnectMinMs after the last attempt.
        const wait = this.lastAttemptAt + this.opts.reconnectMinMs - Date.now();
        this.clearReconnect();
        if (wait <= 0) this.connect();
        else this.reconnectTimer = setTimeout(() => this.connect(), wait);
      }
    });
  }

  private connect(): void {
    this.clearReconnect();
    if (this.closed || this.client) return;
    this.lastAttemptAt = Date.now();
    this.registered = false;
    this.joined.clear();
    const { config } = this;
    const client = new IRC.Client();
    this.client = client;
    let nickAttempts = 0;

    client.use((_client, raw) =>
      raw.use((_command, message, _line, _c, next) => {
        if (this.client === client) this.onServerMessage(client, message);
        next();
      }),
    );
    client.on('registered', (event) => {
      if (this.client !== client) return;
      this.registered = true;
      this.failures = 0;
      this.lastError = null;
      this.log.info({ server: this.where, nick: event.nick }, 'connected to the IRC server');
      for (const waiter of this.waiters) {
        clearTimeout(waiter.timer);
        waiter.resolve(client);
      }
      this.waiters.clear();
    });
    client.on('nick in use', (event) => {
      if (this.registered) return;
      nickAttempts += 1;
      if (nickAttempts > 9) {
        this.registrationFailed(client, `nick ${JSON.stringify(config.nick)} and its variants are in use`);
        return;
      }
      const nick = `${config.nick}_${nickAttempts}`;
      this.log.warn({ server: this.where, inUse: event.nick, nick }, 'IRC nick in use, trying another');
      client.changeNick(nick);
    });
    client.on('nick invalid', (event) => {
      if (!this.registered) {
        this.registrationFailed(
          client,
          `the server refused the nick ${JSON.stringify(event.nick)}: ${event.reason}`,
        );
      }
    });
    client.on('irc error', (event) => {
      if (event.error === 'password_mismatch') {
        this.registrationFailed(client, 'the server refused the password');
      } else if (event.error === 'banned_from_network') {
        this.registrationFailed(client, `the server banned this client: ${event.reason ?? ''}`);
      } else if (event.error === 'irc') {
        // ERROR: the server is closing the link. Before registration that is a refusal
        // (ngIRCd answers a bad password this way), so waiting sends learn it now.
        const reason = `the server closed the link: ${event.reason ?? ''}`;
        if (this.registered) this.lastError = reason;
        else this.registrationFailed(client, reason);
      }
    });
    // irc-framework reports a socket error (refused, reset, TLS) only with the close that follows.
    client.on('socket close', (err) => {
      if (err && this.client === client) this.lastError = err.message;
      this.onClose(client);
    });

    this.log.debug({ server: this.where, attempt: this.failures + 1 }, 'connecting to the IRC server');
    client.connect({
      host: config.server,
      port: config.port,
      nick: config.nick,
      username:
        config.nick
          .replace(/[^A-Za-z0-9]/g, '')
          .slice(0, 10)
          .toLowerCase() || 'taskyard',
      gecos: config.realname || 'Taskyard notifications',
      password: config.password,
      tls: config.tls ?? false,
      rejectUnauthorized: this.opts.rejectUnauthorized,
      version: null,
      // Reconnection is ours (below): irc-framework gives up after three attempts.
      auto_reconnect: false,
      ping_interval: 30,
      ping_timeout: 120,
    });
  }

  private registrationFailed(client: Client, reason: string): void {
    if (this.client !== client) return;
    this.lastError = reason;
    this.log.error({ server: this.where, reason }, 'IRC registration failed');
    const err = new IrcError(
      'registration-failed',
      `could not register with the IRC server ${this.where}: ${reason}`,
    );
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
    this.waiters.clear();
    client.connection.end(undefined, true);
  }

  private onClose(client: Client): void {
    if (this.client !== client) return;
    const wasRegistered = this.registered;
    this.client = null;
    this.registered = false;
    this.joined.clear();
    client.removeAllListeners();
    this.exchange?.fail(
      new IrcError(
        'connection-lost',
        `lost the connection to the IRC server ${this.where} before it acknowledged`,
      ),
    );
    if (this.closed) return;
    this.failures = wasRegistered ? 0 : this.failures + 1;
    const delay = Math.min(this.opts.reconnectMaxMs, this.opts.reconnectMinMs * 2 ** this.failures);
    // Jitter, so that many senders do not reconnect in step after a server restart.
    const wait = Math.round(delay * (0.5 + Math.random() * 0.5));
    this.log.warn(
      { server: this.where, lastError: this.lastError, reconnectInMs: wait },
      wasRegistered ? 'lost the connection to the IRC server' : 'could not connect to the IRC server',
    );
    this.reconnectTimer = setTimeout(() => this.connect(), wait);
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private isMe(client: Client, nick: string | undefined): boolean {
    return nick !== undefined && client.caseCompare(nick, client.user.nick);
  }

  private onServerMessage(client: Client, message: IrcMessage): void {
    const [first, second] = message.params;
    if (message.command === 'PART' && this.isMe(client, message.nick) && first) {
      this.joined.delete(client.caseLower(first));
    } else if (message.command === 'KICK' && this.isMe(client, second) && first) {
      this.joined.delete(client.caseLower(first));
    }
    this.exchange?.onMessage(message);
  }

  /** Waits for a free line under the flood limit: `burstLines` at once, then one per `lineIntervalMs`. */
  private async pace(deadline: number): Promise<void> {
    for (;;) {
      const now = Date.now();
      const refill = (now - this.tokensAt) / this.opts.lineIntervalMs;
      this.tokens = Math.min(this.opts.burstLines, this.tokens + refill);
      this.tokensAt = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const wait = Math.ceil((1 - this.tokens) * this.opts.lineIntervalMs);
      if (now + wait > deadline) {
        throw new IrcError('timeout', `IRC send rate limit: no line free within ${this.opts.timeoutMs} ms`);
      }
      await sleep(wait);
    }
  }

  /**
   * Writes `lines`, then a PING, and waits for its PONG. The server handles a client's lines in
   * order, so every reply to `lines` (an error numeric, a JOIN) has arrived once the PONG does.
   */
  private async roundTrip(
    client: Client,
    lines: string[],
    deadline: number,
    what: string,
    watch: (message: IrcMessage) => void,
  ): Promise<void> {
    const token = `taskyard-${++this.pings}`;
    let timer: NodeJS.Timeout | undefined;
    const acknowledged = new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new IrcError(
              'timeout',
              `the IRC server did not acknowledge ${what} within ${this.opts.timeoutMs} ms`,
            ),
          ),
        Math.max(0, deadline - Date.now()),
      );
      this.exchange = {
        onMessage: (message) => {
          if (message.command === 'PONG' && message.params.at(-1) === token) resolve();
          else watch(message);
        },
        fail: reject,
      };
    });
    acknowledged.catch(() => undefined); // awaited below, unless a write fails first
    try {
      for (const line of [...lines, `PING ${token}`]) {
        await this.pace(deadline);
        if (this.closed) throw new IrcError('closed', 'the IRC sender is closed');
        if (this.client !== client || !this.registered) {
          throw new IrcError('connection-lost', `lost the connection to the IRC server ${this.where}`);
        }
        client.raw(line);
      }
      await acknowledged;
    } finally {
      clearTimeout(timer);
      this.exchange = null;
    }
  }

  private channelLimit(client: Client, channel: string): number {
    const chanlimit = client.network.supports('CHANLIMIT');
    let limit = this.opts.maxChannels;
    if (typeof chanlimit === 'string') {
      for (const entry of chanlimit.split(',')) {
        const [prefixes, max] = entry.split(':');
        if (prefixes?.includes(channel[0]) && max && Number(max) > 0) limit = Math.min(limit, Number(max));
      }
    }
    return Math.max(1, limit);
  }

  private async join(client: Client, channel: string, deadline: number): Promise<void> {
    const key = client.caseLower(channel);
    const name = this.joined.get(key);
    if (name !== undefined) {
      this.joined.delete(key);
      this.joined.set(key, name);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      const lines: string[] = [];
      const limit = this.channelLimit(client, channel);
      for (const [oldKey, oldName] of this.joined) {
        if (this.joined.size < limit) break;
        lines.push(`PART ${oldName}`);
        this.joined.delete(oldKey);
      }
      let joined = false;
      let refusal: { numeric: string; reason: string } | null = null;
      await this.roundTrip(
        client,
        [...lines, `JOIN ${channel}`],
        deadline,
        `joining ${channel}`,
        (message) => {
          const [first, second] = message.params;
          if (message.command === 'JOIN' && this.isMe(client, message.nick) && first) {
            if (client.caseLower(first) === key) joined = true;
          } else if (JOIN_ERRORS[message.command] && second && client.caseLower(second) === key) {
            refusal ??= { numeric: message.command, reason: message.params.at(-1) ?? '' };
          }
        },
      );
      if (joined) {
        this.joined.set(key, channel);
        return;
      }
      const failed = refusal as { numeric: string; reason: string } | null;
      // Too many channels: part the least recently used one and try once more.
      if (failed?.numeric === '405' && attempt === 0 && this.joined.size > 0) {
        this.opts.maxChannels = Math.max(1, this.joined.size);
        continue;
      }
      const why = failed
        ? `${failed.reason} (${JOIN_ERRORS[failed.numeric]})`
        : 'the server did not confirm the join';
      throw new IrcError('cannot-join', `cannot join IRC channel ${channel}: ${why}`);
    }
  }

  private async deliver(client: Client, target: string, lines: string[], deadline: number): Promise<void> {
    let refusal: IrcError | null = null;
    await this.roundTrip(
      client,
      lines.map((line) => `PRIVMSG ${target} :${line}`),
      deadline,
      `the message to ${target}`,
      (message) => {
        const numeric = SEND_ERRORS[message.command];
        const about = message.params[1];
        if (!numeric || refusal || (about && !client.caseCompare(about, target))) return;
        const reason = `${message.params.at(-1) ?? ''} (${numeric})`;
        refusal =
          message.command === '401'
            ? new IrcError('no-such-nick', `IRC user ${target} does not exist or is not online: ${reason}`)
            : new IrcError('cannot-send', `cannot send to IRC ${target}: ${reason}`);
      },
    );
    if (refusal) throw refusal;
    this.log.debug({ target, lines: lines.length }, 'IRC message sent');
  }
}

/**
 * An IRC client that delivers notifications. It connects on the first send, stays connected,
 * and reconnects with backoff after a disconnect. Each send resolves once the server has
 * handled its lines, and rejects with an `IrcError` otherwise.
 */
export function createIrcSender(
  config: IrcConfig,
  logger: Logger,
  options: IrcSenderOptions = {},
): IrcSender {
  return new IrcConnection(config, logger, options);
}
