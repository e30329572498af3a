import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClient, rejection } from '../../helpers/clients.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import {
  captureEvents,
  notifyClient,
  notifyClientFromReference,
  type RecordedRequest,
  settle,
  startRecorder,
  startSmtp,
} from './helpers.ts';

const NOTIFICATION = 'exchange/taskcluster-notify/v1/notification';

let ty: TestTaskyard;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let slack: Awaited<ReturnType<typeof startRecorder>>;
let matrix: Awaited<ReturnType<typeof startRecorder>>;
let matrixAnswer: (req: RecordedRequest) => { status: number; body: unknown };

beforeAll(async () => {
  smtp = await startSmtp();
  slack = await startRecorder((req) =>
    req.body?.channel === 'C-MISSING'
      ? { status: 200, body: { ok: false, error: 'channel_not_found' } }
      : { status: 200, body: { ok: true } },
  );
  matrixAnswer = () => ({ status: 200, body: { event_id: '$e' } });
  matrix = await startRecorder((req) => matrixAnswer(req));
  ty = await startTestTaskyard({
    services: ['auth', 'queue', 'notify'],
    config: {
      smtpHost: '127.0.0.1',
      smtpPort: smtp.port,
      smtpSecure: false,
      emailSourceAddress: 'Taskyard Notify <notify@taskyard.test>',
      slackAccessToken: 'xoxb-test-token',
      slackApiUrl: `${slack.url}/api/`,
      matrixBaseUrl: matrix.url,
      matrixAccessToken: 'matrix-token',
      matrixUserId: '@taskyard:example.org',
      notifyEmailRateLimit: 3,
    },
  });
}, 60_000);

afterAll(async () => {
  await ty?.stop();
  await smtp?.close();
  await slack?.close();
  await matrix?.close();
});

const mailsTo = (address: string) => smtp.mails.filter((m) => m.to.includes(address));

describe('email', () => {
  it('sends a mail with a text part, an escaped HTML rendering of the markdown and the link', async () => {
    const notify = notifyClient(ty);
    await notify.email({
      address: 'alice@example.com',
      subject: 'Build done',
      content: '# Result\n\nThe **build** of `main` passed <script>alert(1)</script>\n- one\n- two',
      link: { text: 'See it', href: 'https://example.com/build/1' },
      replyTo: 'team@example.com',
    });
    const [mail] = mailsTo('alice@example.com');
    expect(mail.subject).toBe('Build done');
    expect(mail.headers.from).toBe('Taskyard Notify <notify@taskyard.test>');
    expect(mail.headers['reply-to']).toBe('team@example.com');
    expect(mail.text).toContain('The **build** of `main` passed <script>');
    expect(mail.text).toContain('See it: https://example.com/build/1');
    expect(mail.html).toContain('<h1>Result</h1>');
    expect(mail.html).toContain('<strong>build</strong> of <code>main</code>');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('<li>one</li><li>two</li>');
    expect(mail.html).toContain('href="https://example.com/build/1"');
  });

  it('answers 400 naming the field for an invalid address or a missing subject, and sends nothing', async () => {
    const notify = notifyClient(ty);
    const before = smtp.mails.length;
    const bad = await rejection(notify.email({ address: 'not-an-address', subject: 's', content: 'c' }));
    expect(bad.statusCode).toBe(400);
    expect(bad.message).toContain('address');
    const missing = await rejection(notify.email({ address: 'bob@example.com', content: 'c' }));
    expect(missing.statusCode).toBe(400);
    expect(missing.message).toContain('subject');
    expect(smtp.mails.length).toBe(before);
  });

  it('needs notify:email:<address>', async () => {
    const creds = await makeClient(ty, 'notify-carol', ['notify:email:carol@example.com']);
    const notify = notifyClient(ty, creds);
    await notify.email({ address: 'carol@example.com', subject: 's', content: 'c' });
    const err = await rejection(notify.email({ address: 'dave@example.com', subject: 's', content: 'c' }));
    expect(err.statusCode).toBe(403);
    expect(mailsTo('dave@example.com')).toHaveLength(0);
  });

  it('answers 429 once an address had its emails for the window', async () => {
    const notify = notifyClient(ty);
    for (let i = 0; i < 3; i++)
      await notify.email({ address: 'eve@example.com', subject: `n${i}`, content: 'c' });
    const err = await rejection(notify.email({ address: 'eve@example.com', subject: 'n3', content: 'c' }));
    expect(err.statusCode).toBe(429);
    expect(mailsTo('eve@example.com').map((m) => m.subject)).toEqual(['n0', 'n1', 'n2']);
    // Another address is not limited by eve's.
    await notify.email({ address: 'frank@example.com', subject: 'x', content: 'c' });
    expect(mailsTo('frank@example.com')).toHaveLength(1);
  });
});

describe('denylist', () => {
  it('adds, lists page by page and deletes addresses; a denylisted address gets nothing', async () => {
    const notify = notifyClient(ty);
    await notify.addDenylistAddress({
      notificationType: 'email',
      notificationAddress: 'mallory@example.com',
    });
    await notify.addDenylistAddress({
      notificationType: 'email',
      notificationAddress: 'mallory@example.com',
    });
    await notify.addDenylistAddress({ notificationType: 'slack-channel', notificationAddress: 'C-DENIED' });
    await notify.addDenylistAddress({ notificationType: 'pulse', notificationAddress: 'denied.topic' });
    const first = await notify.listDenylist({ limit: 2 });
    expect(first.addresses).toHaveLength(2);
    expect(first.continuationToken).toBeDefined();
    const second = await notify.listDenylist({ limit: 2, continuationToken: first.continuationToken });
    expect([...first.addresses, ...second.addresses]).toEqual([
      { notificationType: 'email', notificationAddress: 'mallory@example.com' },
      { notificationType: 'pulse', notificationAddress: 'denied.topic' },
      { notificationType: 'slack-channel', notificationAddress: 'C-DENIED' },
    ]);
    expect(second.continuationToken).toBeUndefined();

    const denied = await rejection(
      notify.email({ address: 'mallory@example.com', subject: 's', content: 'c' }),
    );
    expect(denied.statusCode).toBe(400);
    expect(denied.code).toBe('DenylistedAddress');
    expect(denied.message).toContain('mallory@example.com is on the denylist');
    const slackDenied = await rejection(notify.slack({ channelId: 'C-DENIED', text: 'hi' }));
    expect(slackDenied.statusCode).toBe(400);
    expect(slack.requests.some((r) => r.body?.channel === 'C-DENIED')).toBe(false);
    expect((await rejection(notify.pulse({ routingKey: 'denied.topic', message: {} }))).statusCode).toBe(400);

    await notify.deleteDenylistAddress({
      notificationType: 'email',
      notificationAddress: 'mallory@example.com',
    });
    await notify.email({ address: 'mallory@example.com', subject: 'back', content: 'c' });
    expect(mailsTo('mallory@example.com').map((m) => m.subject)).toEqual(['back']);
  });

  it('needs notify:manage-denylist and a known notification type', async () => {
    const creds = await makeClient(ty, 'notify-nobody', ['notify:email:*']);
    const err = await rejection(notifyClient(ty, creds).listDenylist());
    expect(err.statusCode).toBe(403);
    const bad = await rejection(
      notifyClient(ty).addDenylistAddress({ notificationType: 'fax', notificationAddress: '123' }),
    );
    expect(bad.statusCode).toBe(400);
    expect(bad.message).toContain('notificationType');
  });
});

describe('pulse', () => {
  it('publishes on the notification exchange with routing key primary.<key> and CC route.<key>', async () => {
    const capture = await captureEvents(ty, [NOTIFICATION]);
    try {
      await notifyClient(ty).pulse({ routingKey: 'builds.main', message: { hello: 'world' } });
      await settle(ty);
      expect(capture.messages).toHaveLength(1);
      expect(capture.messages[0]).toMatchObject({
        routingKey: 'primary.builds.main',
        routes: ['builds.main'],
        payload: { version: 1, message: { hello: 'world' } },
      });
    } finally {
      await capture.close();
    }
  });

  it('answers 400 for a routing key that cannot be published', async () => {
    const err = await rejection(notifyClient(ty).pulse({ routingKey: 'a..b', message: {} }));
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('routingKey');
    const long = await rejection(notifyClient(ty).pulse({ routingKey: 'x'.repeat(101), message: {} }));
    expect(long.statusCode).toBe(400);
  });
});

describe('slack and matrix', () => {
  it('posts chat.postMessage with the bot token', async () => {
    await notifyClient(ty).slack({ channelId: 'C123', text: 'hello *slack*', blocks: [{ type: 'divider' }] });
    const req = slack.requests.find((r) => r.body?.channel === 'C123')!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/chat.postMessage');
    expect(req.headers.authorization).toBe('Bearer xoxb-test-token');
    expect(req.body).toMatchObject({
      text: 'hello *slack*',
      blocks: [{ type: 'divider' }],
      unfurl_links: false,
    });
  });

  it('answers 400 when Slack refuses the channel', async () => {
    const err = await rejection(notifyClient(ty).slack({ channelId: 'C-MISSING', text: 'x' }));
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('channel_not_found');
  });

  it('sends an m.room.message event with the access token', async () => {
    await notifyClient(ty).matrix({
      roomId: '!room:example.org',
      body: 'plain',
      format: 'org.matrix.custom.html',
      formattedBody: '<b>rich</b>',
    });
    const req = matrix.requests.at(-1)!;
    expect(req.method).toBe('PUT');
    expect(req.url).toMatch(
      /^\/_matrix\/client\/v3\/rooms\/!room%3Aexample\.org\/send\/m\.room\.message\/[^/]+$/,
    );
    expect(req.headers.authorization).toBe('Bearer matrix-token');
    expect(req.body).toEqual({
      msgtype: 'm.notice',
      body: 'plain',
      format: 'org.matrix.custom.html',
      formatted_body: '<b>rich</b>',
    });
  });

  it('answers 400 saying the bot must be invited when the homeserver forbids the room', async () => {
    matrixAnswer = () => ({ status: 403, body: { errcode: 'M_FORBIDDEN', error: 'not in room' } });
    try {
      const err = await rejection(notifyClient(ty).matrix({ roomId: '!other:example.org', body: 'x' }));
      expect(err.statusCode).toBe(400);
      expect(err.message).toContain('invited');
    } finally {
      matrixAnswer = () => ({ status: 200, body: { event_id: '$e' } });
    }
  });
});

describe('unconfigured channels', () => {
  it('answers 501 naming the settings to set (IRC is not configured here)', async () => {
    const notify = await notifyClientFromReference(ty);
    const err = await rejection(notify.irc({ channel: '#builds', message: 'hi' }));
    expect(err.statusCode).toBe(501);
    expect(err.message).toContain('ircServer');
    const bad = await rejection(notify.irc({ channel: 'no-hash', message: 'hi' }));
    expect(bad.statusCode).toBe(400);
  });
});
