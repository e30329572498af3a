// The parts of `irc-framework` (4.x) that Taskyard uses; the package ships no types.
declare module 'irc-framework' {
  interface ClientOptions {
    host: string;
    port: number;
    nick: string;
    username?: string;
    gecos?: string;
    password?: string;
    tls?: boolean;
    rejectUnauthorized?: boolean;
    encoding?: string;
    /** Reply to CTCP VERSION; null disables the reply. */
    version?: string | null;
    auto_reconnect?: boolean;
    /** Seconds between client PINGs, and without server data before the link counts as dead. */
    ping_interval?: number;
    ping_timeout?: number;
    message_max_length?: number;
  }

  /** A parsed protocol line. `command` is upper-case; numerics stay as their three digits. */
  interface IrcMessage {
    command: string;
    params: string[];
    prefix: string;
    nick: string;
    ident: string;
    hostname: string;
    tags: Record<string, string>;
  }

  type RawMiddleware = (
    command: string,
    message: IrcMessage,
    rawLine: string,
    client: Client,
    next: (err?: Error) => void,
  ) => void;

  interface MiddlewareStack {
    use(fn: RawMiddleware): void;
  }

  interface MessageEvent {
    type: 'privmsg' | 'notice' | 'action';
    nick: string;
    ident: string;
    hostname: string;
    target: string;
    message: string;
  }

  interface ClientEvents {
    registered: (event: { nick: string }) => void;
    'nick in use': (event: { nick: string; reason: string }) => void;
    'nick invalid': (event: { nick: string; reason: string }) => void;
    'irc error': (event: { error: string; reason?: string; nick?: string; channel?: string }) => void;
    'socket close': (err?: Error | false) => void;
    message: (event: MessageEvent) => void;
    privmsg: (event: MessageEvent) => void;
    join: (event: { nick: string; channel: string }) => void;
    part: (event: { nick: string; channel: string; message: string }) => void;
    quit: (event: { nick: string; message: string }) => void;
    raw: (event: { line: string; from_server: boolean }) => void;
  }

  class Client {
    constructor(options?: Partial<ClientOptions>);
    readonly connected: boolean;
    user: { nick: string };
    network: { supports(name: string): unknown };
    connection: {
      /** Writes `data` (if any) then closes; `hadError` destroys the socket instead of ending it. */
      end(data?: string, hadError?: boolean): void;
    };
    connect(options: ClientOptions): void;
    use(middleware: (client: Client, raw: MiddlewareStack, parsed: MiddlewareStack) => void): this;
    on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this;
    once<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): this;
    removeAllListeners(): this;
    /** Writes one protocol line verbatim (when given a single string). */
    raw(line: string): void;
    quit(message?: string): void;
    join(channel: string, key?: string): void;
    say(target: string, message: string): void;
    changeNick(nick: string): void;
    caseLower(text: string): string;
    caseCompare(a: string, b: string): boolean;
  }

  const IRC: { Client: typeof Client };
  export default IRC;
  export type { Client, ClientOptions, IrcMessage, MessageEvent };
}
