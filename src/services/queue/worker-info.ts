import type { Queryable } from '../../platform/db/index.ts';
import { splitTaskQueueId } from './task-record.ts';

/** How long a task queue, provisioner or worker stays listed after it was last seen. */
export const SEEN_EXPIRY_MS = 24 * 60 * 60 * 1000;
/** How many of its latest claims a worker record keeps. */
export const RECENT_TASKS_KEPT = 20;

export interface WorkerKey {
  taskQueueId: string;
  workerGroup: string;
  workerId: string;
}

/**
 * Records that a task queue (and its provisioner) was seen: created on first sight, and its
 * expiry only ever moves later. One statement.
 */
export async function recordTaskQueueSeen(
  q: Queryable,
  taskQueueId: string,
  now: Date,
  expiresMs = SEEN_EXPIRY_MS,
): Promise<void> {
  await q.query(
    `with tq as (
       insert into queue_task_queues (task_queue_id, expires, last_date_active) values ($1, $3, $4)
       on conflict (task_queue_id) do update
         set expires = greatest(queue_task_queues.expires, excluded.expires), last_date_active = excluded.last_date_active
     )
     insert into queue_provisioners (provisioner_id, expires, last_date_active) values ($2, $3, $4)
     on conflict (provisioner_id) do update
       set expires = greatest(queue_provisioners.expires, excluded.expires), last_date_active = excluded.last_date_active`,
    [taskQueueId, splitTaskQueueId(taskQueueId).provisionerId, new Date(now.getTime() + expiresMs), now],
  );
}

/**
 * How stale a last-seen time may get before a sighting writes it again. Every claimWork of every
 * worker sees its task queue and provisioner: writing those rows each time would make them the
 * hottest rows of the database (one lock for all the workers of a queue) for a time shown to the
 * second. Within this long, `lastDateActive` may lag; `expires` (a day ahead) by as much.
 */
export const SEEN_REFRESH_MS = 30_000;

/**
 * Records that a worker was seen, with its task queue and provisioner (first_claim on first
 * sight), appending the runs it just claimed to its recent tasks (the last 20 are kept). Rows
 * seen within SEEN_REFRESH_MS are left alone unless there are recent tasks to add. One
 * statement; returns until when the worker is quarantined (as it was before this statement).
 */
export async function recordWorkerSeen(
  q: Queryable,
  worker: WorkerKey,
  now: Date,
  recentTasks: Array<{ taskId: string; runId: number }> = [],
  expiresMs = SEEN_EXPIRY_MS,
): Promise<Date | undefined> {
  const res = await q.query<{ quarantineUntil: Date | null }>(
    `with tq_new as (
       insert into queue_task_queues (task_queue_id, expires, last_date_active) values ($1, $5, $6)
       on conflict (task_queue_id) do nothing
     ), tq_old as (
       update queue_task_queues set expires = greatest(expires, $5), last_date_active = $6
       where task_queue_id = $1 and last_date_active < $9
     ), prov_new as (
       insert into queue_provisioners (provisioner_id, expires, last_date_active) values ($4, $5, $6)
       on conflict (provisioner_id) do nothing
     ), prov_old as (
       update queue_provisioners set expires = greatest(expires, $5), last_date_active = $6
       where provisioner_id = $4 and last_date_active < $9
     ), w_new as (
       insert into queue_workers (task_queue_id, worker_group, worker_id, expires, first_claim, last_date_active, recent_tasks)
       values ($1, $2, $3, $5, $6, $6, ${lastOf('$7::jsonb', '$8')})
       on conflict (task_queue_id, worker_group, worker_id) do nothing
     ), w_old as (
       update queue_workers
         set expires = greatest(expires, $5),
             last_date_active = $6,
             recent_tasks = case when jsonb_array_length($7::jsonb) = 0 then recent_tasks else
               ${lastOf('recent_tasks || $7::jsonb', '$8')} end
       where task_queue_id = $1 and worker_group = $2 and worker_id = $3
         and (last_date_active < $9 or jsonb_array_length($7::jsonb) > 0)
     )
     select quarantine_until as "quarantineUntil" from queue_workers
     where task_queue_id = $1 and worker_group = $2 and worker_id = $3`,
    [
      worker.taskQueueId,
      worker.workerGroup,
      worker.workerId,
      splitTaskQueueId(worker.taskQueueId).provisionerId,
      new Date(now.getTime() + expiresMs),
      now,
      JSON.stringify(recentTasks.map(({ taskId, runId }) => ({ taskId, runId }))),
      RECENT_TASKS_KEPT,
      new Date(now.getTime() - SEEN_REFRESH_MS),
    ],
  );
  const until = res.rows[0]?.quarantineUntil;
  return until && until > now ? until : undefined;
}

/** SQL for the last `n` elements (an integer parameter) of the JSON array `array`, in order. */
function lastOf(array: string, n: string): string {
  return `jsonb_path_query_array(${array}, '$[last - $n + 1 to last]', jsonb_build_object('n', ${n}::int))`;
}

/** Notified (after commit) with a worker's `workerKey` when its quarantine changes. */
export const WORKER_CHANNEL = 'taskyard_queue_worker';

/** The NOTIFY payload and cache key of a worker. */
export function workerKey(w: WorkerKey): string {
  return JSON.stringify([w.taskQueueId, w.workerGroup, w.workerId]);
}

/**
 * What this process learned from its latest `recordWorkerSeen` of each worker, so that a worker
 * calling claimWork again and again costs no statement: within SEEN_REFRESH_MS the statement
 * would write nothing and only read the quarantine. A quarantine change notifies WORKER_CHANNEL
 * (in the quarantining statement itself), which drops the worker's entry in every process (at
 * once in the process that made it); entries are only trusted while that LISTEN is up
 * (`resume` to `suspend`: off from the moment the connection is found lost until it is back).
 */
export class WorkerSightings {
  private readonly seen = new Map<string, { at: number; quarantineUntil: Date | undefined }>();
  /** Bumped by every invalidation: a sighting read across one is not kept. */
  private generation = 0;
  /** Whether quarantine changes are being heard (see suspend and resume). */
  private enabled = false;

  /** Until when the worker is quarantined (undefined: it is not), recording the sighting if due. */
  async see(q: Queryable, worker: WorkerKey, now: Date): Promise<Date | undefined> {
    const key = workerKey(worker);
    const hit = this.seen.get(key);
    const t = now.getTime();
    if (this.enabled && hit && t >= hit.at && t - hit.at < SEEN_REFRESH_MS) {
      return hit.quarantineUntil && hit.quarantineUntil > now ? hit.quarantineUntil : undefined;
    }
    const generation = this.generation;
    const quarantineUntil = await recordWorkerSeen(q, worker, now);
    if (this.enabled && generation === this.generation) {
      if (this.seen.size >= MAX_SIGHTINGS) this.prune(t);
      this.seen.set(key, { at: t, quarantineUntil });
    }
    return quarantineUntil;
  }

  /** Whether a sighting of the worker is remembered (for tests). */
  remembers(worker: WorkerKey): boolean {
    return this.seen.has(workerKey(worker));
  }

  /** Quarantine changes may be missed from now on (no LISTEN yet, or it was lost): trust nothing. */
  suspend(): void {
    this.enabled = false;
    this.invalidate();
  }

  /** Quarantine changes are heard again: remember sightings from now on. */
  resume(): void {
    this.invalidate();
    this.enabled = true;
  }

  /** Forgets one worker (`key` from workerKey), or every worker. */
  invalidate(key?: string): void {
    this.generation++;
    if (key === undefined) this.seen.clear();
    else this.seen.delete(key);
  }

  private prune(t: number): void {
    for (const [key, entry] of this.seen) if (t - entry.at >= SEEN_REFRESH_MS) this.seen.delete(key);
    if (this.seen.size >= MAX_SIGHTINGS) this.seen.clear();
  }
}

/** Workers a process remembers sightings of before it prunes (each entry is a few hundred bytes). */
const MAX_SIGHTINGS = 100_000;

/**
 * Appends claimed runs to the recent tasks of several workers of one task queue (the last 20
 * are kept), and marks them active: one statement for a batch of claims. Workers unknown so far
 * are created. (Their task queue and provisioner were seen by the claimWork that asked.)
 * `expires` moves (never back) only when it lags by more than SEEN_REFRESH_MS, as for the
 * sighting above: it is the one indexed column the update would change, so a busy worker's row
 * is otherwise rewritten in place (a HOT update, no new index entries) on each claim.
 */
export async function recordWorkersClaimed(
  q: Queryable,
  taskQueueId: string,
  claims: ReadonlyArray<{ workerGroup: string; workerId: string; taskId: string; runId: number }>,
  now: Date,
  expiresMs = SEEN_EXPIRY_MS,
): Promise<void> {
  // One entry per worker, its runs in claim order (an UPDATE applies one source row per target).
  const byWorker = new Map<string, { workerGroup: string; workerId: string; recent: object[] }>();
  for (const c of claims) {
    const key = JSON.stringify([c.workerGroup, c.workerId]);
    let entry = byWorker.get(key);
    if (!entry) {
      entry = { workerGroup: c.workerGroup, workerId: c.workerId, recent: [] };
      byWorker.set(key, entry);
    }
    entry.recent.push({ taskId: c.taskId, runId: c.runId });
  }
  if (byWorker.size === 0) return;
  // In one order everywhere, so claim transactions of one queue in flight together do not
  // deadlock on each other's worker rows.
  const workers = [...byWorker.keys()].sort().map((key) => byWorker.get(key)!);
  await q.query(
    `with input as (
       select * from unnest($2::text[], $3::text[], $4::jsonb[]) as i(worker_group, worker_id, recent)
     ), w_new as (
       insert into queue_workers (task_queue_id, worker_group, worker_id, expires, first_claim, last_date_active, recent_tasks)
       select $1, i.worker_group, i.worker_id, $5, $6, $6, ${lastOf('i.recent', '$7')}
       from input i
       on conflict (task_queue_id, worker_group, worker_id) do nothing
     )
     update queue_workers w
       set expires = case when w.expires < $8 then $5 else w.expires end,
           last_date_active = $6,
           recent_tasks = ${lastOf('w.recent_tasks || i.recent', '$7')}
     from input i
     where w.task_queue_id = $1 and w.worker_group = i.worker_group and w.worker_id = i.worker_id`,
    [
      taskQueueId,
      workers.map((w) => w.workerGroup),
      workers.map((w) => w.workerId),
      workers.map((w) => JSON.stringify(w.recent)),
      new Date(now.getTime() + expiresMs),
      now,
      RECENT_TASKS_KEPT,
      new Date(now.getTime() + expiresMs - SEEN_REFRESH_MS),
    ],
  );
}

/** Until when the worker is quarantined, or undefined when it is not (or not known). */
export async function quarantinedUntil(
  q: Queryable,
  taskQueueId: string,
  workerGroup: string,
  workerId: string,
  now: Date,
): Promise<Date | undefined> {
  const res = await q.query<{ until: Date }>(
    `select quarantine_until as until from queue_workers
     where task_queue_id = $1 and worker_group = $2 and worker_id = $3 and quarantine_until > $4`,
    [taskQueueId, workerGroup, workerId, now],
  );
  return res.rows[0]?.until;
}
