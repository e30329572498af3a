/**
 * One load-generating process of the queue benchmark (forked by bench/queue.ts, never run on its
 * own). The parent starts jobs in it by message; several may run at once:
 *
 * - `create`: creates `count` tasks with `concurrency` requests in flight (or as a chain, each
 *   depending on the one before), and reports when each was sent and answered.
 * - `work`: `workers` simulated workers, each a loop of claimWork (one task) → reportCompleted at
 *   once, until the parent says stop; reports every claim with its times.
 *
 * Running apart from the orchestrator and the server keeps signing and parsing off their cores.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Credentials,
  failureText,
  newTaskId,
  nowMs,
  QueueHttp,
  type Response,
  serverMs,
  type TaskSpec,
  type TaskStatus,
  taskDefinition,
} from './queue-http.ts';

export interface CreateJob {
  kind: 'create';
  spec: TaskSpec;
  count: number;
  concurrency: number;
  /** Each task depends on the previous one (the first on spec.dependencies); one at a time. */
  chain?: boolean;
  /** Pause after each task is answered (one lane), so that creations are spread in time. */
  pacingMs?: number;
}

export interface WorkJob {
  kind: 'work';
  taskQueueId: string;
  workers: number;
  /** Makes workerIds unique across processes and jobs. */
  workerPrefix: string;
}

export type Job = CreateJob | WorkJob;

export interface Failures {
  failures: number;
  failureSamples: string[];
}

export interface CreateResult extends Failures {
  kind: 'create';
  /** In the order the answers arrived: taskId, when its request was sent and answered (nowMs). */
  taskIds: string[];
  sentAt: number[];
  doneAt: number[];
}

export interface WorkResult extends Failures {
  kind: 'work';
  /** One entry per completed claim, in completion order. */
  taskIds: string[];
  /** When claimWork's answer with the task arrived, and when reportCompleted's answer did (nowMs). */
  claimedAt: number[];
  completedAt: number[];
  /** Server timestamps (epoch ms) of the run: became pending, resolved. */
  scheduled: number[];
  resolved: number[];
  /** claimWork calls that came back empty (the 20 s long poll ran out). */
  emptyClaims: number;
}

export type JobResult = CreateResult | WorkResult;

/** Parent → child. */
export type ToLoad =
  | { type: 'init'; rootUrl: string; credentials: Credentials; index: number }
  | { type: 'start'; id: number; job: Job }
  | { type: 'stop'; id: number }
  | { type: 'cpu'; token: number };

/** Child → parent. */
export type FromLoad =
  | { type: 'ready' }
  | { type: 'polling'; id: number }
  | { type: 'progress'; id: number; done: number; failures: number; sample?: string }
  | { type: 'result'; id: number; result: JobResult }
  | { type: 'cpu'; token: number; micros: number }
  | { type: 'error'; id?: number; message: string };

const MAX_SAMPLES = 10;
const send = (m: FromLoad) => process.send!(m);

let rootUrl = '';
let credentials: Credentials = { clientId: '', accessToken: '' };

function failuresOf(): Failures & { add(s: string): void } {
  const f = {
    failures: 0,
    failureSamples: [] as string[],
    add(s: string) {
      f.failures++;
      if (f.failureSamples.length < MAX_SAMPLES) f.failureSamples.push(s);
    },
  };
  return f;
}

/** Progress to the parent at most every 100 ms (a skipped update is sent when the 100 ms are up). */
function progressReporter(id: number, failures: Failures) {
  let last = 0;
  let sent = -1;
  let sentFailures = 0;
  let latest = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (latest === sent && failures.failures === sentFailures) return;
    last = Date.now();
    sent = latest;
    sentFailures = failures.failures;
    send({
      type: 'progress',
      id,
      done: latest,
      failures: failures.failures,
      sample: failures.failureSamples[0],
    });
  };
  return (done: number, force = false) => {
    latest = done;
    const wait = 100 - (Date.now() - last);
    if (force || wait <= 0 || (failures.failures > 0 && sentFailures === 0)) {
      clearTimeout(timer);
      flush();
    } else {
      timer ??= setTimeout(flush, wait);
    }
  };
}

async function runCreate(id: number, job: CreateJob): Promise<CreateResult> {
  const http = new QueueHttp(rootUrl, credentials, job.concurrency);
  const f = failuresOf();
  const result: CreateResult = {
    kind: 'create',
    taskIds: [],
    sentAt: [],
    doneAt: [],
    failures: 0,
    failureSamples: [],
  };
  const progress = progressReporter(id, f);
  let next = 0;
  let previous: string | undefined;
  const lane = async () => {
    while (next < job.count && f.failures === 0) {
      next++;
      const taskId = newTaskId();
      const dependencies = job.chain && previous ? [previous] : job.spec.dependencies;
      const sent = nowMs();
      let res: Response;
      try {
        res = await http.request('PUT', `/task/${taskId}`, taskDefinition({ ...job.spec, dependencies }));
      } catch (err) {
        f.add(`createTask: ${(err as Error).message}`);
        break;
      }
      if (res.status !== 200) {
        f.add(failureText('PUT', `/task/${taskId}`, res));
        break;
      }
      previous = taskId;
      result.taskIds.push(taskId);
      result.sentAt.push(sent);
      result.doneAt.push(res.at);
      progress(result.taskIds.length);
      if (job.pacingMs) await sleep(job.pacingMs);
    }
  };
  const lanes = job.chain || job.pacingMs ? 1 : Math.min(job.concurrency, job.count);
  await Promise.all(Array.from({ length: lanes }, lane));
  progress(result.taskIds.length, true);
  http.destroy();
  return { ...result, failures: f.failures, failureSamples: f.failureSamples };
}

interface Claim {
  status: TaskStatus;
  runId: number;
}

const stoppers = new Map<number, () => void>();

async function runWork(id: number, job: WorkJob): Promise<WorkResult> {
  // Separate connections for the long polls, so that stopping ends them and nothing else.
  const claims = new QueueHttp(rootUrl, credentials, job.workers);
  const reports = new QueueHttp(rootUrl, credentials, job.workers);
  const f = failuresOf();
  const r: WorkResult = {
    kind: 'work',
    taskIds: [],
    claimedAt: [],
    completedAt: [],
    scheduled: [],
    resolved: [],
    emptyClaims: 0,
    failures: 0,
    failureSamples: [],
  };
  const progress = progressReporter(id, f);
  // Every failure goes to the parent at once, which fails the run with it.
  const fail = (text: string) => {
    f.add(text);
    progress(r.taskIds.length);
  };
  let stopping = false;
  stoppers.set(id, () => {
    stopping = true;
    claims.destroy();
  });
  let started = 0;
  const claimPath = `/claim-work/${encodeURIComponent(job.taskQueueId)}`;
  const lane = async (i: number) => {
    const worker = { workerGroup: 'bench', workerId: `${job.workerPrefix}-${i}` };
    while (!stopping) {
      const call = claims.request<{ tasks: Claim[] }>('POST', claimPath, { ...worker, tasks: 1 });
      if (++started === job.workers) send({ type: 'polling', id });
      let res: Response<{ tasks: Claim[] }>;
      try {
        res = await call;
      } catch (err) {
        if (stopping) return;
        fail(`claimWork: ${(err as Error).message}`);
        await sleep(100);
        continue;
      }
      if (res.status !== 200) {
        fail(failureText('POST', claimPath, res));
        await sleep(100);
        continue;
      }
      if (res.body.tasks.length === 0) r.emptyClaims++;
      for (const claim of res.body.tasks) {
        const taskId = claim.status.taskId;
        const path = `/task/${taskId}/runs/${claim.runId}/completed`;
        let done: Response<{ status: TaskStatus }>;
        try {
          done = await reports.request('POST', path);
        } catch (err) {
          fail(`reportCompleted: ${(err as Error).message}`);
          continue;
        }
        if (done.status !== 200) {
          fail(failureText('POST', path, done));
          continue;
        }
        const run = done.body.status.runs[claim.runId];
        r.taskIds.push(taskId);
        r.claimedAt.push(res.at);
        r.completedAt.push(done.at);
        r.scheduled.push(serverMs(run?.scheduled));
        r.resolved.push(serverMs(run?.resolved));
        progress(r.taskIds.length);
      }
    }
  };
  await Promise.all(Array.from({ length: job.workers }, (_, i) => lane(i)));
  stoppers.delete(id);
  reports.destroy();
  return { ...r, failures: f.failures, failureSamples: f.failureSamples };
}

process.on('message', (m: ToLoad) => {
  if (m.type === 'init') {
    rootUrl = m.rootUrl;
    credentials = m.credentials;
    send({ type: 'ready' });
  } else if (m.type === 'cpu') {
    const u = process.cpuUsage();
    send({ type: 'cpu', token: m.token, micros: u.user + u.system });
  } else if (m.type === 'stop') {
    stoppers.get(m.id)?.();
  } else if (m.type === 'start') {
    const run = m.job.kind === 'create' ? runCreate(m.id, m.job) : runWork(m.id, m.job);
    run.then(
      (result) => send({ type: 'result', id: m.id, result }),
      (err: unknown) => send({ type: 'error', id: m.id, message: (err as Error)?.stack ?? String(err) }),
    );
  }
});
process.on('disconnect', () => process.exit(0));
