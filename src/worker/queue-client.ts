import taskcluster from 'taskcluster-client';

/** Credentials as the queue hands them out (temporary ones carry a certificate). */
export interface Credentials {
  clientId: string;
  accessToken: string;
  certificate?: string;
}

export interface TaskDefinition {
  taskQueueId?: string;
  provisionerId?: string;
  workerType?: string;
  taskGroupId: string;
  dependencies: string[];
  scopes: string[];
  payload: unknown;
  metadata: { name: string; description: string; owner: string; source: string };
  deadline: string;
  expires: string;
  created: string;
  [key: string]: unknown;
}

export interface RunStatus {
  runId: number;
  state: string;
  reasonCreated: string;
  reasonResolved?: string;
  started?: string;
  resolved?: string;
  takenUntil?: string;
}

export interface TaskStatus {
  taskId: string;
  state: string;
  runs: RunStatus[];
  [key: string]: unknown;
}

export interface Claim {
  status: TaskStatus;
  runId: number;
  workerGroup: string;
  workerId: string;
  takenUntil: string;
  task: TaskDefinition;
  credentials: Credentials;
}

export interface Reclaim {
  status: TaskStatus;
  runId: number;
  takenUntil: string;
  credentials: Credentials;
}

export type ArtifactRequest =
  | { storageType: 's3'; expires: string; contentType: string; contentLength?: number }
  | { storageType: 'reference'; expires: string; contentType: string; url: string }
  | {
      storageType: 'error';
      expires: string;
      reason: 'file-missing-on-worker' | 'invalid-resource-on-worker' | 'too-large-file-on-worker';
      message: string;
    };

/** An error the queue (or any Taskcluster service) answered with. */
export interface ApiCallError extends Error {
  statusCode?: number;
  code?: string;
}

export const statusOf = (err: unknown): number | undefined => (err as ApiCallError)?.statusCode;

/** The live-log endpoint is Taskyard's own, so the official reference lacks it. */
const liveLogReference = {
  version: 0,
  $schema: '/schemas/common/api-reference-v0.json#',
  serviceName: 'queue',
  apiVersion: 'v1',
  title: 'Queue live log',
  description: 'appendLiveLog',
  entries: [
    {
      type: 'function',
      method: 'post',
      route: '/task/<taskId>/runs/<runId>/live-log',
      query: [],
      args: ['taskId', 'runId'],
      name: 'appendLiveLog',
      stability: 'experimental',
      category: 'Worker Interface',
      title: 'Append to the live log',
      description: 'Appends a chunk at a byte offset.',
      input: 'v1/append-live-log-request.json#',
      output: 'v1/append-live-log-response.json#',
      scopes: 'queue:create-artifact:<taskId>/<runId>',
    },
  ],
};
const LiveLogClient = taskcluster.createClient(liveLogReference);

type Untyped = Record<string, (...args: unknown[]) => Promise<unknown>> & {
  buildSignedUrl(method: unknown, ...args: unknown[]): string;
  buildUrl(method: unknown, ...args: unknown[]): string;
};

/**
 * The worker's typed view of the official client. Calls with the worker's own credentials
 * (claimWork, purge requests) use `worker`; everything about one run uses that run's
 * temporary credentials, passed per call.
 */
export class QueueClient {
  readonly rootUrl: string;
  private readonly workerQueue: Untyped;
  private readonly workerPurge: Untyped;

  constructor(opts: { rootUrl: string; credentials: Credentials; retries?: number }) {
    this.rootUrl = opts.rootUrl;
    // claimWork long-polls ~20 s: the client must wait longer than that.
    this.workerQueue = new taskcluster.Queue({
      rootUrl: opts.rootUrl,
      credentials: opts.credentials,
      timeout: 60_000,
      retries: opts.retries ?? 2,
    });
    this.workerPurge = new taskcluster.PurgeCache({
      rootUrl: opts.rootUrl,
      credentials: opts.credentials,
      retries: opts.retries ?? 2,
    });
  }

  private task(credentials: Credentials): Untyped {
    return new taskcluster.Queue({ rootUrl: this.rootUrl, credentials, retries: 4, delayFactor: 250 });
  }

  async claimWork(
    taskQueueId: string,
    body: { workerGroup: string; workerId: string; tasks: number },
  ): Promise<Claim[]> {
    const res = (await this.workerQueue.claimWork(taskQueueId, body)) as { tasks: Claim[] };
    return res.tasks;
  }

  async reclaimTask(credentials: Credentials, taskId: string, runId: number): Promise<Reclaim> {
    return (await this.task(credentials).reclaimTask(taskId, runId)) as Reclaim;
  }

  async reportCompleted(credentials: Credentials, taskId: string, runId: number): Promise<void> {
    await this.task(credentials).reportCompleted(taskId, runId);
  }

  async reportFailed(credentials: Credentials, taskId: string, runId: number): Promise<void> {
    await this.task(credentials).reportFailed(taskId, runId);
  }

  async reportException(
    credentials: Credentials,
    taskId: string,
    runId: number,
    reason: string,
  ): Promise<void> {
    await this.task(credentials).reportException(taskId, runId, { reason });
  }

  async createArtifact(
    credentials: Credentials,
    taskId: string,
    runId: number,
    name: string,
    body: ArtifactRequest,
  ): Promise<{ storageType: string; putUrl?: string; contentType?: string }> {
    return (await this.task(credentials).createArtifact(taskId, runId, name, body)) as {
      storageType: string;
      putUrl?: string;
    };
  }

  async status(credentials: Credentials, taskId: string): Promise<TaskStatus> {
    return ((await this.task(credentials).status(taskId)) as { status: TaskStatus }).status;
  }

  async taskDefinition(credentials: Credentials, taskId: string): Promise<TaskDefinition> {
    return (await this.task(credentials).task(taskId)) as TaskDefinition;
  }

  /** A URL that downloads an artifact of a run (signed with the run's credentials). */
  artifactUrl(credentials: Credentials, taskId: string, runId: number | 'latest', name: string): string {
    const q = this.task(credentials);
    return runId === 'latest'
      ? q.buildSignedUrl(q.getLatestArtifact, taskId, name)
      : q.buildSignedUrl(q.getArtifact, taskId, runId, name);
  }

  /** The URL of getLiveLog for a run (anonymous readers need `queue:get-artifact:public/logs/live.log`). */
  liveLogUrl(taskId: string, runId: number): string {
    return `${this.rootUrl}/api/queue/v1/task/${encodeURIComponent(taskId)}/runs/${runId}/live-log`;
  }

  async appendLiveLog(
    credentials: Credentials,
    taskId: string,
    runId: number,
    chunk: { offset: number; data: string },
  ): Promise<{ length: number }> {
    // No retries here: the log writer retries with the same offset itself.
    const client = new LiveLogClient({ rootUrl: this.rootUrl, credentials, retries: 0 });
    return (await client.appendLiveLog(taskId, runId, chunk)) as { length: number };
  }

  async findIndexedTask(credentials: Credentials, namespace: string): Promise<string> {
    const index = new taskcluster.Index({ rootUrl: this.rootUrl, credentials, retries: 2 });
    return ((await index.findTask(namespace)) as { taskId: string }).taskId;
  }

  async purgeRequests(workerPoolId: string): Promise<Array<{ cacheName: string; before: string }>> {
    const res = (await this.workerPurge.purgeRequests(workerPoolId)) as {
      requests: Array<{ cacheName: string; before: string }>;
    };
    return res.requests;
  }
}
