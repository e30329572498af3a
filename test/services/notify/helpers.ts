import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import taskcluster from 'taskcluster-client';
import type { DeliveredMessage, InProcessBus } from '../../../src/platform/events/index.ts';
import { DEFAULT_SENDER } from '../../../src/services/notify/email.ts';
import type { NotifyChannels, NotifyContext } from '../../../src/services/notify/index.ts';
import type { Credentials } from '../../helpers/clients.ts';
import type { TestTaskyard } from '../../helpers/taskyard.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

export function notifyClient(ty: TestTaskyard, credentials: Credentials | undefined = ty.root): Untyped {
  return new taskcluster.Notify({ rootUrl: ty.rootUrl, credentials, retries: 0 });
}

/** A Notify client built from OUR reference (it has `irc`, which taskcluster-client 87 lacks). */
export async function notifyClientFromReference(ty: TestTaskyard): Promise<Untyped> {
  const reference = await (await fetch(`${ty.rootUrl}/references/notify/v1/api.json`)).json();
  const Notify = taskcluster.createClient(reference);
  return new Notify({ rootUrl: ty.rootUrl, credentials: ty.root, retries: 0 });
}

export interface ReceivedMail {
  from: string;
  to: string[];
  headers: Record<string, string>;
  subject: string;
  text: string;
  html: string;
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable':
      return Buffer.from(
        body
          .replace(/=\r\n/g, '')
          .replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
        'latin1',
      ).toString('utf8');
    default:
      return body;
  }
}

/** Text and HTML parts of a MIME message (enough for nodemailer's multipart/alternative). */
export function parseMail(raw: string): Omit<ReceivedMail, 'from' | 'to'> {
  const split = raw.indexOf('\r\n\r\n');
  const headers = parseHeaders(raw.slice(0, split));
  const body = raw.slice(split + 4);
  const parts: Record<string, string> = {};
  const boundary = /boundary="?([^";]+)"?/.exec(headers['content-type'] ?? '')?.[1];
  if (boundary) {
    for (const chunk of body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith('--')) break;
      const at = chunk.indexOf('\r\n\r\n');
      const ph = parseHeaders(chunk.slice(2, at));
      const type = (ph['content-type'] ?? '').split(';')[0];
      parts[type] = decodeBody(chunk.slice(at + 4).replace(/\r\n$/, ''), ph['content-transfer-encoding']);
    }
  } else {
    parts[(headers['content-type'] ?? 'text/plain').split(';')[0]] = decodeBody(
      body,
      headers['content-transfer-encoding'],
    );
  }
  return {
    headers,
    subject: headers.subject ?? '',
    text: (parts['text/plain'] ?? '').replace(/\r\n/g, '\n'),
    html: (parts['text/html'] ?? '').replace(/\r\n/g, '\n'),
  };
}

/** A real SMTP server on a free port, keeping what it receives. */
export async function startSmtp(): Promise<{ port: number; mails: ReceivedMail[]; close(): Promise<void> }> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          ...parseMail(Buffer.concat(chunks).toString('utf8')),
        });
        callback();
      });
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const { port } = server.server.address() as AddressInfo;
  return { port, mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Untyped;
}

/** A local HTTP server that records requests and answers with `respond` (default 200 `{ok: true}`). */
export async function startRecorder(
  respond: (req: RecordedRequest) => { status: number; body: unknown } = () => ({
    status: 200,
    body: { ok: true, event_id: '$1' },
  }),
): Promise<{ url: string; requests: RecordedRequest[]; server: Server; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      };
      requests.push(recorded);
      const { status, body } = respond(recorded);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Every message of the given exchanges (and pattern) on the test's in-process bus, as delivered. */
export async function captureEvents(
  ty: TestTaskyard,
  exchanges: string[],
  pattern = '#',
): Promise<{ messages: DeliveredMessage[]; close(): Promise<void> }> {
  const messages: DeliveredMessage[] = [];
  const consumer = await ty.bus.consume({
    queueName: `test/capture/${Math.random().toString(36).slice(2)}`,
    bindings: exchanges.map((exchange) => ({ exchange, pattern })),
    handler: async (msg) => {
      messages.push(msg);
    },
  });
  return { messages, close: () => consumer.close() };
}

export async function settle(ty: TestTaskyard): Promise<void> {
  await ty.taskyard.relay.waitIdle();
  await (ty.bus as InProcessBus).waitIdle();
}

/** A notify context on the test's database, with the given channels (for calling handlers directly). */
export function notifyContext(ty: TestTaskyard, channels: NotifyChannels): NotifyContext {
  return {
    database: ty.testDb.db,
    logger: pino({ level: 'silent' }),
    now: () => ty.clock.now,
    config: ty.config,
    rootUrl: () => ty.rootUrl,
    channels,
    sender: DEFAULT_SENDER,
  };
}
