/**
 * The taskcluster proxy of one run (payload `features.taskclusterProxy`): an HTTP server on the
 * worker's loopback that forwards `<proxy>/<path>` to `<rootUrl>/<path>`, signed with the run's
 * temporary credentials and limited (authorizedScopes) to the task's own scopes. The task calls
 * the API as itself without ever holding credentials, and cannot use the run's extra scopes
 * (resolving or reclaiming its own run).
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import hawk from 'hawk';
import type { Logger } from 'pino';
import type { Credentials } from './queue-client.ts';

export interface TaskclusterProxy {
  /** What the task gets as TASKCLUSTER_PROXY_URL. */
  url: string;
  close(): Promise<void>;
}

/** Request headers passed on (everything else, authorization above all, is the proxy's to set). */
const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'accept-encoding',
  'content-type',
  'content-length',
  'content-encoding',
  'range',
  'if-none-match',
  'if-modified-since',
];
/** Response headers that belong to one connection, not to the response. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
]);

/** The Hawk `ext` that carries a temporary credential's certificate and the authorized scopes. */
export function hawkExt(credentials: Credentials, authorizedScopes: readonly string[]): string {
  const ext: Record<string, unknown> = { authorizedScopes };
  if (credentials.certificate) ext.certificate = JSON.parse(credentials.certificate);
  return Buffer.from(JSON.stringify(ext)).toString('base64');
}

function fail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ code: 'TaskclusterProxyError', message }));
}

export async function startTaskclusterProxy(opts: {
  rootUrl: string;
  /** The run's current credentials (they change at each reclaim). */
  credentials: () => Credentials;
  /** The task's scopes: all the proxy lets a request use. */
  scopes: readonly string[];
  logger: Logger;
  host?: string;
}): Promise<TaskclusterProxy> {
  const root = new URL(opts.rootUrl);
  const basePath = root.pathname.replace(/\/$/, '');
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    if (!path.startsWith('/'))
      return fail(res, 400, 'the proxy forwards paths such as /api/<service>/v1/...');
    const target = new URL(root.origin + basePath + path);
    const method = req.method ?? 'GET';
    const credentials = opts.credentials();
    const headers: Record<string, string | string[]> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    headers.authorization = hawk.client.header(target.href, method, {
      credentials: { id: credentials.clientId, key: credentials.accessToken, algorithm: 'sha256' },
      ext: hawkExt(credentials, opts.scopes),
    }).header;
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstream = send(target, { method, headers }, (answer) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
      }
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
    });
    upstream.on('error', (err) => {
      opts.logger.warn({ err, path }, 'taskcluster proxy: request failed');
      fail(res, 502, `the proxy could not reach ${root.origin}: ${err.message}`);
    });
    req.on('aborted', () => upstream.destroy());
    req.pipe(upstream);
  };
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
