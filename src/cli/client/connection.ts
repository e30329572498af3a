/**
 * Where the CLI sends requests and as whom: like upstream's tools, TASKCLUSTER_ROOT_URL with
 * TASKCLUSTER_CLIENT_ID / TASKCLUSTER_ACCESS_TOKEN (and TASKCLUSTER_CERTIFICATE), else the
 * credentials.json `taskyard up` writes in its data directory. API calls go through the official
 * client, built from the server's own references, behind the small typed layer here.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import hawk from 'hawk';
import taskcluster from 'taskcluster-client';
import { UserError } from '../fail.ts';

export interface Credentials {
  clientId: string;
  accessToken: string;
  certificate?: string;
}

export interface Connection {
  rootUrl: string;
  credentials?: Credentials;
  /** Where the settings came from, for messages. */
  source: string;
}

export const DEFAULT_DATA_DIR = './.taskyard';

/** The connection from the environment, else from `<dataDir>/credentials.json`. */
export function resolveConnection(
  opts: { dataDir?: string },
  env: NodeJS.ProcessEnv = process.env,
): Connection {
  if (env.TASKCLUSTER_ROOT_URL) {
    const rootUrl = env.TASKCLUSTER_ROOT_URL.replace(/\/+$/, '');
    if (!/^https?:\/\//.test(rootUrl)) {
      throw new UserError(`TASKCLUSTER_ROOT_URL must be an http(s) URL, not ${JSON.stringify(rootUrl)}`);
    }
    const { TASKCLUSTER_CLIENT_ID: clientId, TASKCLUSTER_ACCESS_TOKEN: accessToken } = env;
    if (Boolean(clientId) !== Boolean(accessToken)) {
      throw new UserError('set both TASKCLUSTER_CLIENT_ID and TASKCLUSTER_ACCESS_TOKEN, or neither');
    }
    return {
      rootUrl,
      credentials:
        clientId && accessToken
          ? {
              clientId,
              accessToken,
              ...(env.TASKCLUSTER_CERTIFICATE ? { certificate: env.TASKCLUSTER_CERTIFICATE } : {}),
            }
          : undefined,
      source: 'TASKCLUSTER_ROOT_URL',
    };
  }
  const file = join(resolve(opts.dataDir ?? env.TASKYARD_DATA_DIR ?? DEFAULT_DATA_DIR), 'credentials.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(
        `no Taskyard to talk to: start Taskyard with \`npm start\` (it writes ${file}), or set TASKCLUSTER_ROOT_URL (and TASKCLUSTER_CLIENT_ID / TASKCLUSTER_ACCESS_TOKEN) for another deployment`,
      );
    }
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: { rootUrl?: unknown; clientId?: unknown; accessToken?: unknown };
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError(`${file} is not valid JSON; restart \`taskyard up\` to rewrite it`);
  }
  if (
    typeof parsed.rootUrl !== 'string' ||
    typeof parsed.clientId !== 'string' ||
    typeof parsed.accessToken !== 'string'
  ) {
    throw new UserError(
      `${file} lacks rootUrl, clientId or accessToken; restart \`taskyard up\` to rewrite it`,
    );
  }
  return {
    rootUrl: parsed.rootUrl.replace(/\/+$/, ''),
    credentials: { clientId: parsed.clientId, accessToken: parsed.accessToken },
    source: file,
  };
}

/** An error from the API, as the official client reports it. */
interface ClientError extends Error {
  statusCode?: number;
  code?: string;
  body?: { code?: string; message?: string };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'EAI_AGAIN',
]);

/** A one-line message a person can act on, for anything an API call threw. */
export function describeError(err: unknown, conn: Connection): UserError {
  if (err instanceof UserError) return err;
  const e = err as ClientError;
  if (typeof e?.statusCode === 'number') {
    const code = e.body?.code ?? e.code ?? 'Error';
    // Server messages can run to several paragraphs; the first line says what is wrong.
    const message = String(e.body?.message ?? e.message).split('\n')[0];
    const hint =
      e.statusCode === 401
        ? ` (check the credentials from ${conn.source})`
        : e.statusCode === 403
          ? ` (client ${conn.credentials?.clientId ?? 'anonymous'} lacks a scope)`
          : '';
    return new UserError(`${code}: ${message}${hint}`);
  }
  if (isUnreachable(err)) {
    return new UserError(
      `cannot reach Taskyard at ${conn.rootUrl} (${networkCode(err) ?? 'no answer'}): is it running? Start it with \`npm start\``,
    );
  }
  const wrapped = new UserError(`unexpected error: ${(err as Error)?.message ?? String(err)}`);
  (wrapped as { cause?: unknown }).cause = err;
  return wrapped;
}

function networkCode(err: unknown): string | undefined {
  for (let e = err as { code?: string; cause?: unknown } | undefined, i = 0; e && i < 5; i++) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

function isUnreachable(err: unknown): boolean {
  if (networkCode(err)) return true;
  const message = String((err as Error)?.message ?? '');
  return /fetch failed|ECONNREFUSED|socket hang up|getaddrinfo/.test(message);
}

// biome-ignore lint/suspicious/noExplicitAny: the official client's objects are generated at run time
type Untyped = any;

export interface ReferenceEntry {
  type: string;
  name: string;
  method: string;
  route: string;
  args: string[];
  query?: string[];
  input?: string;
  output?: string;
  title?: string;
  scopes?: unknown;
}

/** API clients of one deployment, built from the references it serves. */
export class Api {
  private readonly references = new Map<string, Promise<{ entries: ReferenceEntry[] }>>();
  private readonly clients = new Map<string, Promise<Untyped>>();

  constructor(readonly conn: Connection) {}

  /** The service's reference (`/references/<service>/v1/api.json`). */
  reference(service: string): Promise<{ entries: ReferenceEntry[] }> {
    let ref = this.references.get(service);
    if (!ref) {
      ref = (async () => {
        let res: Response;
        try {
          res = await fetch(`${this.conn.rootUrl}/references/${encodeURIComponent(service)}/v1/api.json`);
        } catch (err) {
          throw describeError(err, this.conn);
        }
        if (res.status === 404) {
          throw new UserError(
            `${this.conn.rootUrl} has no service ${JSON.stringify(service)}; \`taskyard api\` lists the services`,
          );
        }
        if (!res.ok)
          throw new UserError(`${this.conn.rootUrl} answered ${res.status} for the ${service} reference`);
        return (await res.json()) as { entries: ReferenceEntry[] };
      })();
      this.references.set(service, ref);
    }
    return ref;
  }

  /** The services the deployment serves. */
  async services(): Promise<string[]> {
    let res: Response;
    try {
      res = await fetch(`${this.conn.rootUrl}/references/manifest.json`);
    } catch (err) {
      throw describeError(err, this.conn);
    }
    const manifest = (await res.json()) as { references: string[] };
    return manifest.references
      .map((r) => /^\/references\/([^/]+)\/v1\/api\.json$/.exec(r)?.[1])
      .filter((s): s is string => Boolean(s));
  }

  private client(service: string): Promise<Untyped> {
    let client = this.clients.get(service);
    if (!client) {
      client = this.reference(service).then((ref) => {
        const Client = taskcluster.createClient(ref);
        // Two retries for 5xx and network errors: enough for a blip, short when the server is down.
        return new Client({ rootUrl: this.conn.rootUrl, credentials: this.conn.credentials, retries: 2 });
      });
      this.clients.set(service, client);
    }
    return client;
  }

  /** Calls `service.method(...args)`; errors become one-line UserErrors. */
  async call<T = unknown>(service: string, method: string, ...args: unknown[]): Promise<T> {
    const client = await this.client(service);
    if (typeof client[method] !== 'function') {
      throw new UserError(`the ${service} service has no method ${JSON.stringify(method)}`);
    }
    try {
      return (await client[method](...args)) as T;
    } catch (err) {
      throw describeError(err, this.conn);
    }
  }

  /** A signed URL (bewit) for a GET method, valid 15 minutes. */
  async signedUrl(service: string, method: string, ...args: unknown[]): Promise<string> {
    const client = await this.client(service);
    if (!this.conn.credentials) return client.buildUrl(client[method], ...args);
    return client.buildSignedUrl(client[method], ...args);
  }

  /** GET with a Hawk header when the URL is this deployment's; redirects are not followed. */
  async get(url: string, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {};
    const creds = this.conn.credentials;
    if (creds && url.startsWith(`${this.conn.rootUrl}/`) && !url.includes('bewit=')) {
      const ext = creds.certificate
        ? Buffer.from(JSON.stringify({ certificate: JSON.parse(creds.certificate) })).toString('base64')
        : undefined;
      headers.authorization = hawk.client.header(url, 'GET', {
        credentials: { id: creds.clientId, key: creds.accessToken, algorithm: 'sha256' },
        ...(ext ? { ext } : {}),
      }).header;
    }
    try {
      return await fetch(url, { headers, redirect: 'manual', signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw describeError(err, this.conn);
    }
  }
}

/** The `{code, message}` of an error response, as a UserError. */
export async function responseError(res: Response, what: string): Promise<UserError> {
  let body: { code?: string; message?: string } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not JSON: the status says enough
  }
  const message = body.message ? `: ${body.message.split('\n')[0]}` : '';
  return new UserError(`${body.code ?? `HTTP ${res.status}`} ${what}${message}`);
}
