import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IRC, { type Client, type MessageEvent } from 'irc-framework';

export const NGIRCD = '/usr/sbin/ngircd';

/** Whether the tool must be present (CI lists it in TASKYARD_REQUIRE_TOOLS), so tests fail instead of skipping. */
export function toolRequired(tool: string): boolean {
  return (process.env.TASKYARD_REQUIRE_TOOLS ?? '').split(/\s+/).includes(tool);
}

export function ngircdAvailable(): boolean {
  return existsSync(NGIRCD);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface NgircdOptions {
  /** Server password clients must send (PASS). */
  password?: string;
  /** Also listen for TLS on `tlsPort`, with a throwaway self-signed certificate (needs openssl). */
  tls?: boolean;
}

function selfSignedCertificate(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1']
        .concat(['-addext', 'subjectAltName=IP:127.0.0.1'])
        .concat(['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]),
      (err) =>
        err ? reject(new Error(`openssl could not create a certificate: ${err.message}`)) : resolve(),
    );
  });
}

/**
 * A real ngIRCd on 127.0.0.1 in the foreground, with a throwaway configuration:
 * no PAM, no ident or DNS lookups, no per-IP connection limit, 30-character nicks.
 */
export class Ngircd {
  readonly host = '127.0.0.1';
  private process: ChildProcess | null = null;
  private output = '';

  private constructor(
    readonly port: number,
    /** The TLS port, when started with `tls`. */
    readonly tlsPort: number | null,
    private readonly dir: string,
  ) {}

  static async start(options: NgircdOptions = {}): Promise<Ngircd> {
    const dir = await mkdtemp(join(tmpdir(), 'taskyard-ngircd-'));
    await mkdir(join(dir, 'conf.d'));
    // ngIRCd drops root privileges to "nobody", which must still reach the key files.
    await chmod(dir, 0o755);
    const port = await freePort();
    const tlsPort = options.tls ? await freePort() : null;
    if (options.tls) {
      await selfSignedCertificate(dir);
      await chmod(join(dir, 'key.pem'), 0o644);
    }
    const config = [
      '[Global]',
      '  Name = irc.taskyard.test',
      '  Info = Taskyard test server',
      '  AdminInfo1 = Taskyard tests',
      '  AdminInfo2 = localhost',
      '  AdminEMail = tests@taskyard.invalid',
      '  Listen = 127.0.0.1',
      `  Ports = ${port}`,
      '  MotdPhrase = "Taskyard test server"',
      ...(options.password ? [`  Password = ${options.password}`] : []),
      '[Limits]',
      '  MaxNickLength = 30',
      '  MaxConnectionsIP = 0',
      '  MaxJoins = 10',
      '[Options]',
      '  PAM = no',
      '  Ident = no',
      '  DNS = no',
      `  IncludeDir = ${join(dir, 'conf.d')}`,
      ...(tlsPort
        ? [
            '[SSL]',
            `  CertFile = ${join(dir, 'cert.pem')}`,
            `  KeyFile = ${join(dir, 'key.pem')}`,
            `  Ports = ${tlsPort}`,
          ]
        : []),
      '',
    ].join('\n');
    await writeFile(join(dir, 'ngircd.conf'), config);
    const ircd = new Ngircd(port, tlsPort, dir);
    await ircd.launch();
    return ircd;
  }

  /** Starts the server process (again, after `stop`) and waits until it accepts connections. */
  async launch(): Promise<void> {
    if (this.process) throw new Error('ngircd is already running');
    const child = spawn(NGIRCD, ['-n', '-f', join(this.dir, 'ngircd.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process = child;
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const deadline = Date.now() + 20_000;
    while (!(await accepts(this.port)) || (this.tlsPort !== null && !(await accepts(this.tlsPort)))) {
      if (exited || Date.now() > deadline) {
        this.process = null;
        child.kill('SIGKILL');
        throw new Error(`ngircd did not start on port ${this.port}:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops the server (every client is disconnected) and waits for the process to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  /** The server's log, for failure messages. */
  log(): string {
    return this.output;
  }

  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A plain IRC client that joins `channels` and records what it receives. */
export interface Listener {
  client: Client;
  nick: string;
  messages: MessageEvent[];
  /** Protocol lines the server sent to the listener. */
  lines: string[];
  quits: { nick: string; message: string }[];
  close(): Promise<void>;
}

/** Polls outside a test (hooks cannot use expect.poll), without a fixed sleep-then-assert. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function listen(
  ircd: Ngircd,
  nick: string,
  channels: string[],
  password?: string,
): Promise<Listener> {
  const client = new IRC.Client();
  const listener: Listener = {
    client,
    nick,
    messages: [],
    lines: [],
    quits: [],
    close: async () => {
      if (!client.connected) return;
      const closed = new Promise<void>((resolve) => client.once('socket close', () => resolve()));
      client.quit('bye');
      await closed;
    },
  };
  client.on('privmsg', (event) => listener.messages.push(event));
  client.on('quit', (event) => listener.quits.push(event));
  client.on('raw', (event) => {
    if (event.from_server) listener.lines.push(event.line);
  });
  const joined = new Set<string>();
  client.on('join', (event) => {
    if (event.nick === nick) joined.add(event.channel);
  });
  let registered = false;
  client.once('registered', () => {
    registered = true;
  });
  client.connect({
    host: ircd.host,
    port: ircd.port,
    nick,
    password,
    auto_reconnect: false,
  });
  await waitFor(() => registered, `${nick} to register`);
  for (const channel of channels) client.join(channel);
  await waitFor(() => channels.every((c) => joined.has(c)), `${nick} to join ${channels.join(', ')}`);
  return listener;
}
