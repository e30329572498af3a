/**
 * The queue benchmark's HTTP side: Hawk-signed JSON requests over keep-alive connections (a
 * fresh header per request: the server refuses a nonce it has seen), task definitions, and a
 * clock that processes on this machine share. Used by the orchestrator (bench/queue.ts) for its
 * few setup calls and by the load generators (bench/queue-load.ts) for the measured ones.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import Hawk from 'hawk';
import slugid from 'slugid';

export interface Credentials {
  clientId: string;
  accessToken: string;
}

/**
 * Milliseconds since the epoch, with sub-millisecond resolution. Every process derives it from
 * the same system clock, so differences between processes are latencies (to within the clock's
 * step between their starts, far below a millisecond on one machine).
 */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export interface Response<T = unknown> {
  status: number;
  body: T;
  /** When the last byte of the response arrived (nowMs). */
  at: number;
}

export class QueueHttp {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly credentials: { id: string; key: string; algorithm: 'sha256' };
  private readonly open = new Set<http.ClientRequest>();

  constructor(
    readonly rootUrl: string,
    creds: Credentials,
    sockets = 64,
  ) {
    const base = new URL(rootUrl);
    this.host = base.hostname;
    this.port = Number(base.port || 80);
    this.credentials = { id: creds.clientId, key: creds.accessToken, algorithm: 'sha256' };
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  /** A signed request to `/api/queue/v1<path>`; rejects only on transport errors, not on a status. */
  request<T = unknown>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<Response<T>> {
    const fullPath = `/api/queue/v1${path}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const { header } = Hawk.client.header(`${this.rootUrl}${fullPath}`, method, {
      credentials: this.credentials,
      ...(payload === undefined ? {} : { payload, contentType: 'application/json' }),
    });
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent: this.agent,
          host: this.host,
          port: this.port,
          path: fullPath,
          method,
          headers: {
            authorization: header,
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            this.open.delete(req);
            const at = nowMs();
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: kept as text, for the failure message
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T, at });
          });
          res.on('error', (err) => {
            this.open.delete(req);
            reject(err);
          });
        },
      );
      this.open.add(req);
      req.on('error', (err) => {
        this.open.delete(req);
        reject(err);
      });
      req.end(payload);
    });
  }

  /** Like request(), but a non-2xx answer is an error carrying the server's words. */
  async ok<T = unknown>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<Response<T>> {
    const res = await this.request<T>(method, path, body);
    if (res.status < 200 || res.status >= 300) throw new Error(failureText(method, path, res));
    return res;
  }

  /** Ends every request in flight (their promises reject) and closes the connections. */
  destroy(): void {
    for (const req of this.open) req.destroy(new Error('benchmark stopped this request'));
    this.agent.destroy();
  }
}

export function failureText(method: string, path: string, res: Response): string {
  const body = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  return `${res.status} ${method} ${path}: ${(body ?? '').slice(0, 400)}`;
}

export interface TaskSpec {
  taskQueueId: string;
  taskGroupId?: string;
  schedulerId?: string;
  dependencies?: string[];
}

/** The run fields of a task status the benchmark reads. */
export interface RunStatus {
  runId: number;
  state: string;
  scheduled: string;
  started?: string;
  resolved?: string;
}
export interface TaskStatus {
  taskId: string;
  taskQueueId: string;
  taskGroupId: string;
  state: string;
  runs: RunStatus[];
}

/** A minimal valid task: an empty payload, which the simulated workers "run" at once. */
export function taskDefinition(spec: TaskSpec): Record<string, unknown> {
  const now = Date.now();
  return {
    taskQueueId: spec.taskQueueId,
    schedulerId: spec.schedulerId ?? 'taskyard-bench',
    ...(spec.taskGroupId ? { taskGroupId: spec.taskGroupId } : {}),
    ...(spec.dependencies ? { dependencies: spec.dependencies } : {}),
    created: new Date(now).toJSON(),
    deadline: new Date(now + 12 * 3600_000).toJSON(),
    expires: new Date(now + 48 * 3600_000).toJSON(),
    payload: {},
    metadata: {
      name: 'taskyard queue benchmark',
      description: 'a task of the queue benchmark (bench/queue.ts)',
      owner: 'bench@taskyard.invalid',
      source: 'https://taskyard.invalid/bench/queue',
    },
  };
}

export const newTaskId = (): string => slugid.nice();

/** Parses a server timestamp (ISO 8601) to epoch milliseconds; NaN when absent. */
export const serverMs = (iso: string | undefined): number => (iso ? Date.parse(iso) : Number.NaN);
