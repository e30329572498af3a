import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertValidChannel,
  assertValidNick,
  createIrcSender,
  IrcError,
  type IrcSender,
  type IrcSenderOptions,
  ircLineBudget,
  sanitizeIrcText,
  splitIrcText,
} from '../../../src/services/notify/irc.ts';
import { type Listener, listen, Ngircd, ngircdAvailable, toolRequired } from '../../helpers/ircd.ts';

const logger = pino({ level: 'silent' });
const PASSWORD = 'test-server-password';

async function rejection(promise: Promise<unknown>): Promise<IrcError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IrcError);
  return err as IrcError;
}

describe('IRC text handling', () => {
  it('turns line breaks into one space and drops protocol-breaking controls', () => {
    expect(sanitizeIrcText('hi\r\nQUIT')).toBe('hi QUIT');
    expect(sanitizeIrcText('a\nb\rc\u2028d')).toBe('a b c d');
    expect(sanitizeIrcText('nul\u0000 ctcp\u0001 del\u007f')).toBe('nul ctcp del');
    expect(sanitizeIrcText('\u0002bold\u0002 \u000304red\u000f')).toBe('\u0002bold\u0002 \u000304red\u000f');
  });

  it('splits on UTF-8 byte limits without breaking a character, and loses nothing', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 400 }),
        fc.integer({ min: 16, max: 120 }),
        (text, max) => {
          const pieces = splitIrcText(text, max);
          expect(pieces.join('')).toBe(text);
          for (const piece of pieces) {
            expect(piece.length).toBeGreaterThan(0);
            expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(max);
            expect(Buffer.from(piece, 'utf8').toString('utf8')).toBe(piece);
          }
        },
      ),
    );
  });

  it('prefers to break before a space, which servers would trim at the end of a line', () => {
    expect(splitIrcText('aaaa bbbb cccc', 11)).toEqual(['aaaa bbbb', ' cccc']);
  });

  it('validates channel names and nicks with messages that name the problem', () => {
    for (const ok of ['#taskcluster', '&local', '#a', '#ünï-cödé.bots'])
      expect(() => assertValidChannel(ok)).not.toThrow();
    for (const bad of [
      'taskcluster',
      '#',
      '#a b',
      '#a,#b',
      '#a\u0007',
      '#a\r\nQUIT',
      `#${'x'.repeat(200)}`,
    ]) {
      expect(() => assertValidChannel(bad)).toThrow(/invalid IRC channel/);
    }
    for (const ok of ['alice', 'Bob_2', '[bot]', 'a-b', 'x`y'])
      expect(() => assertValidNick(ok)).not.toThrow();
    for (const bad of ['', '1abc', '-abc', 'a b', 'a\r\nQUIT', 'a,b', 'x'.repeat(256)]) {
      expect(() => assertValidNick(bad)).toThrow(/invalid IRC nick/);
    }
  });

  it('rejects bad input before connecting anywhere', async () => {
    // Nothing listens on port 1: a send that tried to connect would fail with a timeout instead.
    const sender = createIrcSender({ server: '127.0.0.1', port: 1, nick: 'taskyard' }, logger, {
      timeoutMs: 60_000,
    });
    try {
      for (const attempt of [
        () => sender.sendToChannel('no-hash', 'hi'),
        () => sender.sendToChannel('#ok', '\r\n\u0000'),
        () => sender.sendToUser('bad nick', 'hi'),
        () => sender.sendToUser('alice', 'x'.repeat(20_000)),
      ]) {
        const err = await rejection(attempt());
        expect(err.kind).toBe('invalid-input');
        expect(err.retryable).toBe(false);
      }
    } finally {
      await sender.close();
    }
  });
});

/** Keeps the `ngircd` requirement honest: fail (not skip) when CI says the tool must be there. */
const haveNgircd = ngircdAvailable();
const describeIrc = haveNgircd || toolRequired('ngircd') ? describe : describe.skip;

function received(listener: Listener, from: string, target: string): string[] {
  return listener.messages.filter((m) => m.nick === from && m.target === target).map((m) => m.message);
}

describeIrc('the IRC sender against a real ngIRCd', () => {
  let ircd: Ngircd;
  let listener: Listener;
  let sender: IrcSender;
  const senders: IrcSender[] = [];
  const newSender = (nick: string, options: IrcSenderOptions = {}) => {
    const created = createIrcSender(
      { server: '127.0.0.1', port: ircd.port, nick, password: PASSWORD, realname: 'Taskyard test' },
      logger,
      options,
    );
    senders.push(created);
    return created;
  };

  beforeAll(async () => {
    if (!haveNgircd)
      throw new Error('TASKYARD_REQUIRE_TOOLS lists ngircd, but /usr/sbin/ngircd is not installed');
    ircd = await Ngircd.start({ password: PASSWORD, tls: true });
    listener = await listen(ircd, 'listener', ['#taskyard', '#injected', '#lru-b'], PASSWORD);
    sender = newSender('taskyard-bot');
  });

  afterAll(async () => {
    await Promise.all(senders.map((s) => s.close()));
    await listener?.close();
    await ircd?.dispose();
  });

  it('delivers a channel message verbatim', async () => {
    const text = 'Task fQd3 completed ✓ — ünïcödé 日本語 \u0002bold\u0002 and  two  spaces';
    await sender.sendToChannel('#taskyard', text);
    await expect
      .poll(() => received(listener, 'taskyard-bot', '#taskyard'), { timeout: 20_000 })
      .toEqual([text]);
  });

  it('delivers a private message to a user', async () => {
    await sender.sendToUser('listener', 'your task group finished');
    await expect
      .poll(() => received(listener, 'taskyard-bot', 'listener'), { timeout: 20_000 })
      .toEqual(['your task group finished']);
  });

  it('never lets a line break inject a second command', async () => {
    const before = received(listener, 'taskyard-bot', '#injected').length;
    await sender.sendToChannel('#injected', 'hi\r\nQUIT');
    await sender.sendToChannel('#injected', 'a\nPRIVMSG listener :injected');
    await sender.sendToChannel('#injected', 'b\rPART #injected\u0000MODE #injected +i');
    // The server handles a client's commands in order, so once this marker arrives any
    // injected QUIT, PRIVMSG, PART or MODE would already have been seen.
    await sender.sendToUser('listener', 'marker');
    await expect
      .poll(() => received(listener, 'taskyard-bot', 'listener'), { timeout: 20_000 })
      .toContain('marker');
    expect(received(listener, 'taskyard-bot', '#injected').slice(before)).toEqual([
      'hi QUIT',
      'a PRIVMSG listener :injected',
      'b PART #injectedMODE #injected +i',
    ]);
    expect(received(listener, 'taskyard-bot', 'listener')).not.toContain('injected');
    expect(listener.quits.filter((q) => q.nick === 'taskyard-bot')).toEqual([]);
    expect(listener.lines.filter((l) => /^:\S+ (PART|MODE) #injected/.test(l))).toEqual([]);
  });

  it('splits a long message into lines within 512 bytes whose concatenation is the original', async () => {
    const words = [
      'build',
      'ünïcödé',
      '日本語のテキスト',
      '👩‍👩‍👧‍👦',
      'e\u0301',
      'a-much-longer-word-without-any-break',
    ];
    const text = Array.from({ length: 120 }, (_, i) => words[i % words.length]).join(' ');
    expect(Buffer.byteLength(text)).toBeGreaterThan(1_500);
    const firstLine = listener.lines.length;
    const before = received(listener, 'taskyard-bot', '#taskyard').length;
    // ngIRCd lets a client send about one line per second, so this takes a while.
    await sender.sendToChannel('#taskyard', text);
    await expect
      .poll(() => received(listener, 'taskyard-bot', '#taskyard').slice(before).join(''), { timeout: 20_000 })
      .toBe(text);
    const lines = received(listener, 'taskyard-bot', '#taskyard').slice(before);
    expect(lines.length).toBeGreaterThanOrEqual(
      Math.ceil(Buffer.byteLength(text) / ircLineBudget('taskyard-bot', '#taskyard')),
    );
    for (const line of listener.lines.slice(firstLine))
      expect(Buffer.byteLength(line)).toBeLessThanOrEqual(512);
    expect(listener.lines.slice(firstLine).some((l) => Buffer.byteLength(l) > 400)).toBe(true);
  }, 90_000);

  it('rejects a message to an unknown nick with an error naming it', async () => {
    const err = await rejection(sender.sendToUser('nobody-here', 'hello?'));
    expect(err.kind).toBe('no-such-nick');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('nobody-here');
    expect(err.message).toContain('ERR_NOSUCHNICK');
    // The connection is still usable afterwards.
    await sender.sendToUser('listener', 'still here');
    await expect
      .poll(() => received(listener, 'taskyard-bot', 'listener'), { timeout: 20_000 })
      .toContain('still here');
  });

  it('rejects a channel it cannot join (invite-only, key) with an error naming the channel', async () => {
    listener.client.join('#closed');
    listener.client.join('#keyed');
    await expect
      .poll(() => listener.lines.filter((l) => / JOIN :?#(closed|keyed)/.test(l)).length, { timeout: 20_000 })
      .toBe(2);
    listener.client.raw('MODE #closed +i');
    listener.client.raw('MODE #keyed +k secret');
    await expect
      .poll(() => listener.lines.filter((l) => / MODE #(closed \+i|keyed \+k)/.test(l)).length, {
        timeout: 20_000,
      })
      .toBe(2);
    const inviteOnly = await rejection(sender.sendToChannel('#closed', 'hello'));
    expect(inviteOnly.kind).toBe('cannot-join');
    expect(inviteOnly.message).toMatch(/#closed.*ERR_INVITEONLYCHAN/);
    const keyed = await rejection(sender.sendToChannel('#keyed', 'hello'));
    expect(keyed.kind).toBe('cannot-join');
    expect(keyed.message).toMatch(/#keyed.*ERR_BADCHANNELKEY/);
    expect(received(listener, 'taskyard-bot', '#closed')).toEqual([]);
  });

  it('takes another nick when its own is in use', async () => {
    const twin = newSender('taskyard-bot');
    await twin.sendToChannel('#taskyard', 'from the twin');
    await expect
      .poll(() => received(listener, 'taskyard-bot_1', '#taskyard'), { timeout: 20_000 })
      .toEqual(['from the twin']);
  });

  it('keeps a bounded set of joined channels, parting the least recently used', async () => {
    const bounded = newSender('bounded-bot', { maxChannels: 2 });
    await bounded.sendToChannel('#taskyard', 'one');
    await bounded.sendToChannel('#lru-b', 'two');
    await bounded.sendToChannel('#taskyard', 'three'); // #taskyard is now the most recently used
    await bounded.sendToChannel('#lru-c', 'four'); // parts #lru-b, not #taskyard
    await bounded.sendToChannel('#taskyard', 'five');
    await expect
      .poll(() => received(listener, 'bounded-bot', '#taskyard'), { timeout: 20_000 })
      .toEqual(['one', 'three', 'five']);
    expect(listener.lines.filter((l) => l.startsWith(':bounded-bot!') && / (PART|JOIN) /.test(l))).toEqual([
      expect.stringMatching(/ JOIN :?#taskyard\r?\n?$/),
      expect.stringMatching(/ JOIN :?#lru-b\r?\n?$/),
      expect.stringMatching(/ PART :?#lru-b/),
    ]);
  });

  it('connects over TLS, and verifies the certificate unless told not to', async () => {
    const config = {
      server: '127.0.0.1',
      port: ircd.tlsPort!,
      nick: 'tls-bot',
      tls: true,
      password: PASSWORD,
    };
    const strict = createIrcSender(config, logger, { timeoutMs: 2_000 });
    senders.push(strict);
    const err = await rejection(strict.sendToUser('listener', 'over an unverified link'));
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/self[- ]signed certificate/);
    await strict.close();

    const trusting = createIrcSender(config, logger, { rejectUnauthorized: false });
    senders.push(trusting);
    await trusting.sendToUser('listener', 'over TLS');
    await expect
      .poll(() => received(listener, 'tls-bot', 'listener'), { timeout: 20_000 })
      .toEqual(['over TLS']);
    expect(received(listener, 'tls-bot', 'listener')).not.toContain('over an unverified link');
  });

  it('reports a refused server password without waiting for the timeout', async () => {
    const wrong = createIrcSender(
      { server: '127.0.0.1', port: ircd.port, nick: 'wrong-pass', password: 'nope' },
      logger,
      {
        timeoutMs: 60_000,
      },
    );
    senders.push(wrong);
    const started = Date.now();
    const err = await rejection(wrong.sendToUser('listener', 'hi'));
    expect(err.kind).toBe('registration-failed');
    expect(err.message).toMatch(/password/i);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('quits cleanly on close, is idempotent, and refuses sends afterwards', async () => {
    const closing = newSender('closing-bot');
    await closing.sendToChannel('#taskyard', 'about to leave');
    await expect
      .poll(() => received(listener, 'closing-bot', '#taskyard'), { timeout: 20_000 })
      .toHaveLength(1);
    await Promise.all([closing.close(), closing.close()]);
    await closing.close();
    await expect
      .poll(() => listener.quits.filter((q) => q.nick === 'closing-bot').map((q) => q.message), {
        timeout: 20_000,
      })
      .toEqual([expect.stringContaining('shutting down')]);
    const err = await rejection(closing.sendToChannel('#taskyard', 'too late'));
    expect(err.kind).toBe('closed');
  });
});

describeIrc('the IRC sender when the server goes away', () => {
  let ircd: Ngircd;
  const senders: IrcSender[] = [];
  const listeners: Listener[] = [];

  beforeAll(async () => {
    if (!haveNgircd)
      throw new Error('TASKYARD_REQUIRE_TOOLS lists ngircd, but /usr/sbin/ngircd is not installed');
    ircd = await Ngircd.start({ password: PASSWORD });
  });

  afterAll(async () => {
    await Promise.all(senders.map((s) => s.close()));
    await Promise.all(listeners.map((l) => l.close()));
    await ircd?.dispose();
  });

  it('rejects within the timeout when the server cannot be reached', async () => {
    const down = await Ngircd.start({ password: PASSWORD });
    const port = down.port;
    await down.dispose(); // nothing listens on `port` any more
    const sender = createIrcSender({ server: '127.0.0.1', port, nick: 'lonely-bot' }, logger, {
      timeoutMs: 1_500,
    });
    senders.push(sender);
    const started = Date.now();
    const err = await rejection(sender.sendToUser('listener', 'anyone?'));
    const elapsed = Date.now() - started;
    expect(err.kind).toBe('timeout');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(15_000);
  });

  it('reconnects after the server restarts and delivers the next message', async () => {
    const first = await listen(ircd, 'listener', ['#restart'], PASSWORD);
    listeners.push(first);
    const sender = createIrcSender(
      { server: '127.0.0.1', port: ircd.port, nick: 'restart-bot', password: PASSWORD },
      logger,
    );
    senders.push(sender);
    await sender.sendToChannel('#restart', 'before the restart');
    await expect
      .poll(() => received(first, 'restart-bot', '#restart'), { timeout: 20_000 })
      .toEqual(['before the restart']);

    await ircd.stop();
    await ircd.launch();
    const second = await listen(ircd, 'listener', ['#restart'], PASSWORD);
    listeners.push(second);
    await sender.sendToChannel('#restart', 'after the restart');
    await expect
      .poll(() => received(second, 'restart-bot', '#restart'), { timeout: 20_000 })
      .toEqual(['after the restart']);
  });
});
