/** Streaming a run's live log (getLiveLog) to stdout, surviving cut connections. */
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../fail.ts';
import { type Api, responseError } from './connection.ts';
import { c, note } from './output.ts';

export interface TaskStatus {
  taskId: string;
  taskGroupId: string;
  taskQueueId: string;
  state: string;
  runs: Array<{
    runId: number;
    state: string;
    reasonCreated: string;
    reasonResolved?: string;
    workerGroup?: string;
    workerId?: string;
    started?: string;
    resolved?: string;
    scheduled?: string;
  }>;
}

const RESOLVED = new Set(['completed', 'failed', 'exception']);
export const isResolved = (state: string | undefined): boolean => RESOLVED.has(state ?? '');

/** How long to wait before asking again while a task has no run, or after a cut stream. */
const POLL_MS = 1000;

export async function taskStatus(api: Api, taskId: string): Promise<TaskStatus> {
  return (await api.call<{ status: TaskStatus }>('queue', 'status', taskId)).status;
}

/**
 * Writes the log of one run from `offset` to `out`. With `follow`, until the run is resolved:
 * a stream that ends while the run is unresolved (a server restart) is re-requested from the
 * offset reached. Returns the offset reached.
 */
export async function streamRunLog(
  api: Api,
  taskId: string,
  runId: number,
  opts: { follow: boolean; out: NodeJS.WritableStream; offset?: number },
): Promise<number> {
  let offset = opts.offset ?? 0;
  for (;;) {
    const url = await api.signedUrl('queue', 'getLiveLog', taskId, runId, { offset, follow: opts.follow });
    const res = await api.get(url);
    if (!res.ok) throw await responseError(res, `reading the live log of run ${runId} of task ${taskId}`);
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        offset += chunk.length;
        if (!opts.out.write(chunk)) await new Promise((r) => opts.out.once('drain', r));
      }
    } catch {
      // A cut stream: the status below decides whether to go on.
    }
    if (!opts.follow) return offset;
    const status = await taskStatus(api, taskId);
    const run = status.runs[runId];
    if (!run || isResolved(run.state)) {
      // The stream ended cleanly at resolution, or was cut just then: take any tail it missed.
      const tail = await api.get(
        await api.signedUrl('queue', 'getLiveLog', taskId, runId, { offset, follow: false }),
      );
      if (tail.ok) {
        const bytes = Buffer.from(await tail.arrayBuffer());
        if (bytes.length) opts.out.write(bytes);
        offset += bytes.length;
      }
      return offset;
    }
    await sleep(POLL_MS);
  }
}

/**
 * Follows a task's logs until it is resolved: the latest run's, then any run a retry adds.
 * Waits while the task has no run (unscheduled: its dependencies are not done). Returns the
 * final status.
 */
export async function followTask(
  api: Api,
  taskId: string,
  opts: { out: NodeJS.WritableStream; runId?: number; quiet?: boolean },
): Promise<TaskStatus> {
  let status = await taskStatus(api, taskId);
  let runId = opts.runId ?? Math.max(0, status.runs.length - 1);
  let waitingNoted = false;
  for (;;) {
    if (status.runs.length === 0) {
      if (isResolved(status.state)) return status;
      if (!waitingNoted && !opts.quiet)
        note(c.dim(`task ${taskId} is ${status.state}: waiting for it to be scheduled`));
      waitingNoted = true;
      await sleep(POLL_MS);
      status = await taskStatus(api, taskId);
      continue;
    }
    if (runId >= status.runs.length) throw new UserError(`task ${taskId} has no run ${runId}`);
    await streamRunLog(api, taskId, runId, { follow: true, out: opts.out });
    status = await taskStatus(api, taskId);
    if (opts.runId !== undefined) return status;
    const next = runId + 1;
    if (next < status.runs.length) {
      const ended = status.runs[runId];
      if (!opts.quiet) {
        note(
          c.yellow(
            `run ${runId} ended: ${ended.state} (${ended.reasonResolved ?? ''}); following run ${next}`,
          ),
        );
      }
      runId = next;
      continue;
    }
    if (isResolved(status.state)) return status;
    await sleep(POLL_MS);
  }
}
