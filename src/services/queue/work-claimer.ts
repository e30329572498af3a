import { Batcher } from '../../platform/batcher.ts';
import { notifyAfterCommit, PLAN_EACH_TIME, type Queryable } from '../../platform/db/index.ts';
import { insertOutboxRows, type OutboxRow } from '../../platform/events/index.ts';
import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { taskEventRow } from './events.ts';
import { LIVE_LOG_CHANNEL } from './live-log-db.ts';
import { issuerCredentials, type TaskCredentials, taskCredentials } from './task-credentials.ts';
import { newPendingRun, type TaskRecord, taskDefinition, taskStatus } from './task-record.ts';
import { markClaimed } from './transitions.ts';
import { recordWorkersClaimed, WORKER_CHANNEL, WorkerSightings } from './worker-info.ts';

/** Waiting claims re-check the pending queue this often even without a notification. */
const FALLBACK_POLL_MS = 2000;
/** The most claim requests of one task queue written in one transaction. */
const MAX_CLAIM_BATCH = 64;
/** Claim transactions of one task queue in flight at once (see Batcher; SKIP LOCKED keeps them apart). */
const CLAIM_CONCURRENCY = 4;

export interface Worker {
  workerGroup: string;
  workerId: string;
}

export interface ClaimedRun {
  task: TaskRecord;
  runId: number;
  takenUntil: Date;
}

export interface Claim {
  status: ReturnType<typeof taskStatus>;
  runId: number;
  workerGroup: string;
  workerId: string;
  takenUntil: string;
  task: ReturnType<typeof taskDefinition>;
  credentials: TaskCredentials;
}

/** A claim's takenUntil: the claim timeout from now, rounded up to a whole second. */
export function takenUntilFrom(ctx: QueueContext, now: Date): Date {
  return new Date(Math.ceil((now.getTime() + ctx.settings.claimTimeoutMs) / 1000) * 1000);
}

/**
 * Claims up to `limit` pending runs of a task queue for one worker (see `claimPendingFor`).
 */
export async function claimPending(
  tx: Queryable,
  taskQueueId: string,
  worker: Worker,
  limit: number,
  takenUntil: Date,
  now: Date,
): Promise<ClaimedRun[]> {
  return claimPendingFor(tx, taskQueueId, [{ worker, count: limit }], takenUntil, now);
}

/**
 * The settings of a transaction that claims (`Database.transaction`'s `settings`). The pick must
 * walk the claim index in order and stop after `limit` rows; PostgreSQL only chooses that by
 * itself when its statistics on queue_pending are current. With stale or no statistics (autovacuum
 * off or behind: the table churns) it estimates a handful of rows, joins every pending entry of
 * the queue and sorts them all: 30 ms per pick with a thousand pending. Without sorts and bitmap
 * scans to choose from, it takes the index. No JIT either (connections run without it anyway):
 * the inflated cost estimate of a statement that must sort regardless would set it off.
 */
export const CLAIM_SETTINGS = { enable_sort: 'off', enable_bitmapscan: 'off', jit: 'off' } as const;

/**
 * The entries of open gates (migration 0012) of a task queue, up to $2, with their tasks: gate by
 * gate, each gate's in priority order. Only the task is locked: the dependency loop ungates such
 * entries while claims look at them, and a claim that locked an entry it then dropped (no longer
 * gated, in its recheck) would keep it from every other claim until it commits. The task row
 * decides anyway: it is read as it is now, under the lock, and a run that is not pending any more
 * is not claimed. The open gates drive the plan (a lateral subquery kept apart by `offset 0`):
 * usually there are none, and a plan that scanned the queue's pending entries for them instead
 * would cost every claim that comes back short. Prepared: the plan does not depend on sizes.
 */
const OPEN_GATE_PICK = `select p.run_id as "pendingRunId", ${db.taskColumnsOf('t')}
  from queue_open_gates g
    cross join lateral (
      select p.task_id, p.run_id from queue_pending p
      where p.gate = g.task_id and p.task_queue_id = $1 and (g.completed or p.gate_any)
      order by p.priority desc, p.inserted
      offset 0
    ) p
    join queue_tasks t on t.task_id = p.task_id
  where t.deadline > $3
  limit $2
  for update of t skip locked`;

/**
 * Claims pending runs of a task queue for several requests at once, `count` runs each at most,
 * highest priority first then oldest, handed out in request order, in the caller's transaction.
 * Pending entries and task rows are locked with SKIP LOCKED, so concurrent claimers never wait
 * on each other (nor on a task being canceled or resolved) and never get the same run. Entries of
 * tasks past their deadline are left for the deadline loop; entries whose run is no longer
 * pending are deleted. Set-based: a pick (and a second among the entries of open gates when the
 * first comes back short), one statement saving every claimed task (and removing the entries), one
 * writing their events, however many runs. Run it in a transaction with CLAIM_SETTINGS.
 */
export async function claimPendingFor(
  tx: Queryable,
  taskQueueId: string,
  requests: ReadonlyArray<{ worker: Worker; count: number }>,
  takenUntil: Date,
  now: Date,
): Promise<Array<ClaimedRun & { request: number }>> {
  // The request each claimed run goes to, in order.
  const slots = requests.flatMap((r, i) => Array.from({ length: r.count }, () => i));
  const claimed: Array<ClaimedRun & { request: number }> = [];
  for (;;) {
    // The entries and their tasks, locked together: one statement. Then, only if that came back
    // short, entries of open gates (OPEN_GATE_PICK).
    const wanted = slots.length - claimed.length;
    const picked = await tx.query<TaskRecord & { pendingRunId: number }>(
      `${PLAN_EACH_TIME}select p.run_id as "pendingRunId", ${db.taskColumnsOf('t')}
       from queue_pending p join queue_tasks t on t.task_id = p.task_id
       where p.task_queue_id = $1 and p.gate is null and t.deadline > $3
       order by p.priority desc, p.inserted
       limit $2
       for update of p, t skip locked`,
      [taskQueueId, wanted, now],
    );
    if (picked.rows.length < wanted) {
      const opened = await tx.query<TaskRecord & { pendingRunId: number }>(OPEN_GATE_PICK, [
        taskQueueId,
        wanted - picked.rows.length,
        now,
      ]);
      picked.rows.push(...opened.rows);
    }
    if (picked.rows.length === 0) return claimed;
    const unpend: Array<{ taskId: string; runId: number }> = [];
    const fresh: Array<ClaimedRun & { request: number }> = [];
    const events: OutboxRow[] = [];
    for (const { pendingRunId: runId, ...task } of picked.rows) {
      unpend.push({ taskId: task.taskId, runId });
      // An open gate's entry whose task the dependency loop has not made pending yet: the claim
      // does it (the task-pending event precedes task-running, as it would have).
      if (runId === 0 && task.runs.length === 0 && !task.resolved) {
        task.runs.push(newPendingRun(task, 'scheduled', now));
        events.push(taskEventRow('task-pending', task, { runId: 0 }));
      }
      const run = task.runs[runId];
      // A stale entry (its run is no longer the pending one) is only removed.
      if (run?.state !== 'pending' || runId !== task.runs.length - 1) continue;
      const request = slots[claimed.length + fresh.length];
      markClaimed(task, runId, requests[request].worker, takenUntil, now);
      fresh.push({ task, runId, takenUntil, request });
    }
    await tx.query(
      `with unpend as (
         delete from queue_pending p using unnest($1::text[], $2::int[]) as d(task_id, run_id)
         where p.task_id = d.task_id and p.run_id = d.run_id
       )
       update queue_tasks t set runs = u.runs, taken_until = $5
       from unnest($3::text[], $4::jsonb[]) as u(task_id, runs) where t.task_id = u.task_id`,
      [
        unpend.map((u) => u.taskId),
        unpend.map((u) => u.runId),
        fresh.map((c) => c.task.taskId),
        fresh.map((c) => JSON.stringify(c.task.runs)),
        takenUntil,
      ],
    );
    for (const { task, runId } of fresh) {
      const run = task.runs[runId];
      events.push(
        taskEventRow('task-running', task, {
          runId,
          workerGroup: run.workerGroup,
          workerId: run.workerId,
          takenUntil: run.takenUntil,
        }),
      );
    }
    await insertOutboxRows(tx, events);
    for (const c of fresh) await notifyAfterCommit(tx, LIVE_LOG_CHANNEL, c.task.taskId, { localOnly: true });
    claimed.push(...fresh);
    // Stale entries took places in this batch: look again for live ones.
    if (fresh.length === picked.rows.length || claimed.length >= slots.length) return claimed;
  }
}

/**
 * claimWork's engine: one per queue service (process). Waiting claims are woken by one shared
 * LISTEN on the pending channel, dispatched by taskQueueId, with a slow poll as the fallback for
 * lost notifications.
 */
export class WorkClaimer {
  private readonly waiters = new Map<string, Set<() => void>>();
  private listening: Promise<void> | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  /** What claimWork last learned of each worker's quarantine (see WorkerSightings). */
  readonly sightings = new WorkerSightings();
  private stopped = false;
  private inProgress = 0;

  constructor(private readonly ctx: QueueContext) {}

  /** How many claimWork calls are in progress (for tests and metrics). */
  get waiting(): number {
    return this.inProgress;
  }

  /**
   * Calls `fn` whenever a run of `taskQueueId` becomes pending (and after the LISTEN connection
   * was re-established, when notifications may have been lost). Returns the unsubscriber.
   */
  subscribe(taskQueueId: string, fn: () => void): () => void {
    let set = this.waiters.get(taskQueueId);
    if (!set) {
      set = new Set();
      this.waiters.set(taskQueueId, set);
    }
    set.add(fn);
    return () => {
      const s = this.waiters.get(taskQueueId);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) this.waiters.delete(taskQueueId);
    };
  }

  /**
   * Starts the shared LISTENs once (pending work; worker quarantine changes, which keep the
   * sightings cache true); a failure is logged and retried by the next caller (polling still
   * works, and sightings are then read from the database each time).
   */
  async listen(): Promise<void> {
    if (this.stopped) return;
    const { database } = this.ctx;
    this.listening ??= Promise.allSettled([
      database.listen(db.PENDING_CHANNEL, (taskQueueId) => this.dispatch(taskQueueId), {
        onReconnect: () => this.dispatchAll(),
      }),
      database.listen(WORKER_CHANNEL, (key) => this.sightings.invalidate(key), {
        // While the LISTEN is down quarantines are missed: no sighting is trusted until it is back.
        onLost: () => this.sightings.suspend(),
        onReconnect: () => this.sightings.resume(),
      }),
    ])
      .then((results) => {
        const failed = results.find((r) => r.status === 'rejected');
        if (!failed) return results.map((r) => (r as PromiseFulfilledResult<() => Promise<void>>).value);
        for (const r of results) if (r.status === 'fulfilled') void r.value();
        throw failed.reason;
      })
      .then(
        (unlistens) => {
          const unlisten = async () => {
            this.sightings.suspend();
            await Promise.all(unlistens.map((u) => u()));
          };
          if (this.stopped) {
            void unlisten();
            return;
          }
          this.unlisten = unlisten;
          this.sightings.resume();
        },
        (err) => {
          this.ctx.logger.warn({ err }, 'cannot LISTEN for pending work; claimWork falls back to polling');
          this.listening = undefined;
        },
      );
    await this.listening;
  }

  /**
   * Work became pending in `taskQueueId`: wakes `count` of its waiters, longest-waiting first
   * (each goes to the back of the line). Not all of them: a notification per pending run woke
   * every waiting worker of the queue to race for one run. A waiter that claims a full batch
   * passes the wake on (`claimWork`), so a burst of runs made pending in one transaction (one
   * notification) still reaches as many waiters as it needs, doubling each round.
   */
  private dispatch(taskQueueId: string, count = 1): void {
    const set = this.waiters.get(taskQueueId);
    if (!set) return;
    for (const fn of [...set].slice(0, count)) {
      set.delete(fn);
      set.add(fn);
      fn();
    }
  }

  private dispatchAll(): void {
    for (const set of this.waiters.values()) for (const fn of set) fn();
  }

  /** Stops listening and releases every waiting claim (they answer with what they have: nothing). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.dispatchAll();
    await this.listening;
    await this.unlisten?.();
    this.unlisten = undefined;
  }

  /**
   * Claims up to `count` runs and issues their credentials. The claims of one task queue that
   * arrive while its write slots are busy wait and are claimed together in the next free one.
   */
  claimOnce(taskQueueId: string, worker: Worker, count: number): Promise<Claim[]> {
    let batcher = this.claimBatchers.get(taskQueueId);
    if (!batcher) {
      const created = new Batcher<{ worker: Worker; count: number }, Claim[]>(
        async (requests) => (await this.claimMany(taskQueueId, requests)).map((value) => ({ value })),
        {
          maxBatch: MAX_CLAIM_BATCH,
          concurrency: CLAIM_CONCURRENCY,
          onIdle: () => {
            if (this.claimBatchers.get(taskQueueId) === created) this.claimBatchers.delete(taskQueueId);
          },
        },
      );
      batcher = created;
      this.claimBatchers.set(taskQueueId, batcher);
    }
    return batcher.submit({ worker, count });
  }

  private readonly claimBatchers = new Map<string, Batcher<{ worker: Worker; count: number }, Claim[]>>();

  /** One transaction for several claim requests of one task queue; the claims of each. */
  private async claimMany(
    taskQueueId: string,
    requests: ReadonlyArray<{ worker: Worker; count: number }>,
  ): Promise<Claim[][]> {
    const now = this.ctx.now();
    const takenUntil = takenUntilFrom(this.ctx, now);
    const claimed = await this.ctx.database.transaction(
      async (tx) => {
        const runs = await claimPendingFor(tx, taskQueueId, requests, takenUntil, now);
        // In the same transaction: one commit for the claims and the workers' recent tasks.
        await recordWorkersClaimed(
          tx,
          taskQueueId,
          runs.map((c) => ({ ...requests[c.request].worker, taskId: c.task.taskId, runId: c.runId })),
          now,
        );
        return runs;
      },
      { settings: CLAIM_SETTINGS },
    );
    const out: Claim[][] = requests.map(() => []);
    for (const c of claimed) {
      const { worker } = requests[c.request];
      out[c.request].push({
        status: taskStatus(c.task),
        runId: c.runId,
        ...worker,
        takenUntil: c.takenUntil.toJSON(),
        task: taskDefinition(c.task),
        credentials: taskCredentials(this.ctx, c.task, c.runId, worker, c.takenUntil, now),
      });
    }
    return out;
  }

  /**
   * claimWork: answers as soon as at least one run is claimed, or with none after
   * claimWorkTimeoutMs (or when `signal` aborts: the client went away). A quarantined worker
   * waits the whole time and gets nothing.
   */
  async claimWork(opts: {
    taskQueueId: string;
    worker: Worker;
    count: number;
    signal?: AbortSignal;
  }): Promise<Claim[]> {
    const { taskQueueId, worker, count, signal } = opts;
    issuerCredentials(this.ctx);
    const endAt = Date.now() + this.ctx.settings.claimWorkTimeoutMs;
    const now = this.ctx.now();
    await this.listen();
    const quarantined = await this.sightings.see(this.ctx.database, { taskQueueId, ...worker }, now);
    let signaled = false;
    let wake: (() => void) | undefined;
    const unsubscribe = this.subscribe(taskQueueId, () => {
      signaled = true;
      wake?.();
    });
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort);
    this.inProgress++;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    try {
      if (quarantined) {
        // Woken only by stop or abort: a quarantined worker sees no work until the wait is over.
        while (!this.stopped && !signal?.aborted && Date.now() < endAt) await sleep(endAt - Date.now());
        return [];
      }
      for (;;) {
        // Registered before the attempt, so work that becomes pending during it is not missed.
        signaled = false;
        const claims = await this.claimOnce(taskQueueId, worker, count);
        if (claims.length > 0) {
          unsubscribe();
          signaled = false;
          // A full batch: more may be pending, so two more waiters look (see dispatch).
          if (claims.length === count) this.dispatch(taskQueueId, 2);
          return claims;
        }
        const remaining = endAt - Date.now();
        if (this.stopped || signal?.aborted || remaining <= 0) return [];
        if (!signaled) await sleep(Math.min(remaining, FALLBACK_POLL_MS + Math.random() * 1000));
        if (this.stopped || signal?.aborted) return [];
      }
    } finally {
      this.inProgress--;
      unsubscribe();
      // Woken but leaving without looking (timed out, aborted): the wake goes to another waiter.
      if (signaled && !this.stopped) this.dispatch(taskQueueId);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

const claimers = new WeakMap<QueueContext, WorkClaimer>();

/** The WorkClaimer of a queue service (one per context, so one LISTEN per process). */
export function workClaimerFor(ctx: QueueContext): WorkClaimer {
  let claimer = claimers.get(ctx);
  if (!claimer) {
    claimer = new WorkClaimer(ctx);
    claimers.set(ctx, claimer);
  }
  return claimer;
}
