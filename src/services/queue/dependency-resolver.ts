import type { Logger } from 'pino';
import type { Database } from '../../platform/db/index.ts';
import { taskColumnsOf } from './db.ts';
import { priorityRank, type TaskRecord } from './task-record.ts';
import { queueScheduled } from './transitions.ts';

/**
 * The dependency loop: takes resolutions recorded by resolveRun (queue_resolved_tasks), marks
 * the matching dependency edges satisfied, and schedules dependents whose counter reaches zero.
 * It costs O(dependents) per resolution and runs outside the worker's request. Rows are taken
 * with SKIP LOCKED, so any number of processes can run it; a batch of resolutions is handled in
 * one transaction (a few statements whatever its size), each resolution exactly once.
 */
export class DependencyResolver {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = true;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly database: Database,
    private readonly logger: Logger,
    private readonly now: () => Date,
    private readonly pollMs = 1000,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.unlisten = await this.database.listen('taskyard_queue_resolved', () => this.wake());
    this.timer = setInterval(() => this.wake(), this.pollMs);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.unlisten?.();
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }

  /**
   * Resolves once every recorded resolution has been handled, including ones the background
   * loop (here or in another process) is handling right now (for tests and shutdown).
   */
  async drain(): Promise<void> {
    for (;;) {
      if ((await this.processBatch()) > 0) continue;
      const left = await this.database.query<{ n: string }>('select count(*) as n from queue_resolved_tasks');
      if (Number(left.rows[0].n) === 0 && !this.running) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      try {
        do {
          this.again = false;
          while (!this.stopped && (await this.processBatch()) > 0) {
            // drain
          }
        } while (this.again && !this.stopped);
      } catch (err) {
        this.logger.error({ err }, 'dependency resolution failed; will retry');
      } finally {
        this.running = false;
      }
    })();
  }

  /** Handles up to `limit` resolutions; returns how many. */
  async processBatch(limit = 50): Promise<number> {
    return this.database.transaction(async (tx) => {
      const res = await tx.query<{ id: string; taskId: string; resolution: string }>(
        `delete from queue_resolved_tasks where id in (
           select id from queue_resolved_tasks order by id limit $1 for update skip locked)
         returning id, task_id as "taskId", resolution`,
        [limit],
      );
      if (res.rows.length === 0) return 0;
      // Every edge these resolutions satisfy, each dependent's counter, and the first run of each
      // dependent that is now ready, in one statement: a dependent's row is written once. Only
      // dependents without a run are counted and locked: the counter means nothing once a task
      // has a run (runs never go back to none), and a dependent claimed through its open gate is
      // likely running right now, its worker about to report (which would wait for this lock).
      const now = this.now();
      const dependents = await tx.query<TaskRecord & { ready: boolean }>(
        `with r as (
           select * from unnest($1::text[], $2::text[]) as r(task_id, resolution)
         ), sat as (
           update queue_task_dependencies d set satisfied = true
           from r
           where d.required_task_id = r.task_id and not d.satisfied
             and (d.requires = 'all-resolved' or r.resolution = 'completed')
           returning d.dependent_task_id
         ), counts as (
           select dependent_task_id, count(*)::int as n from sat group by dependent_task_id
         ), locked as (
           select t.task_id, c.n, t.unsatisfied - c.n = 0 and not t.resolved and t.deadline > $3 as ready
           from counts c join queue_tasks t on t.task_id = c.dependent_task_id
           where t.runs = '[]'::jsonb
           order by t.task_id
           for update of t
         )
         update queue_tasks t set unsatisfied = t.unsatisfied - locked.n,
           runs = case when locked.ready then jsonb_build_array(jsonb_build_object(
             'runId', 0, 'state', 'pending', 'reasonCreated', 'scheduled', 'scheduled', $4::text))
             else t.runs end
         from locked where t.task_id = locked.task_id
         returning locked.ready, ${taskColumnsOf('t')}`,
        [res.rows.map((r) => r.taskId), res.rows.map((r) => r.resolution), now, now.toJSON()],
      );
      await queueScheduled(
        tx,
        dependents.rows.filter((r) => r.ready).map(({ ready: _, ...task }) => task),
      );
      // Dependents now waiting on one dependency get their pending entry, gated on it: claimable
      // from the commit that resolves it. If it has resolved already (its resolution waits for
      // this loop), the entry is claimable at once when that resolution opened the gate to it, and
      // otherwise stays gated until the loop handles that resolution and makes the dependent
      // pending, as it would have anyway. Only a task with exactly one unsatisfied edge is gated.
      const waitingOnOne = dependents.rows.filter((r) => !r.ready && r.unsatisfied === 1 && r.deadline > now);
      if (waitingOnOne.length > 0) {
        await tx.query(
          `insert into queue_pending (task_queue_id, priority, task_id, run_id, gate, gate_any)
           select u.q, u.p, u.id, 0, min(e.required_task_id), u.all_resolved
           from unnest($1::text[], $2::text[], $3::int[], $4::boolean[]) as u(id, q, p, all_resolved)
           cross join lateral (
             select d.required_task_id from queue_task_dependencies d
             where d.dependent_task_id = u.id and not d.satisfied offset 0
           ) e
           group by u.q, u.p, u.id, u.all_resolved
           having count(*) = 1
           on conflict (task_id, run_id) do nothing`,
          [
            waitingOnOne.map((t) => t.taskId),
            waitingOnOne.map((t) => t.taskQueueId),
            waitingOnOne.map((t) => priorityRank(t.priority)),
            waitingOnOne.map((t) => t.requires === 'all-resolved'),
          ],
        );
      }
      // The gates of these resolutions close (also one that a later resolution of the same task,
      // after a rerun, opened again: its entries wait for the loop like any dependent; a gate kept
      // open here could outlive every resolution, as two batches can each see the other's). The
      // entries they opened that are still gated belong to dependents that were not made pending
      // now (claimed already, or past their deadline) and are dropped. An all-completed entry
      // whose gate failed stays: a rerun of the gate may still complete it. The entries are found
      // per resolution through the gate index (a lateral subquery behind `offset 0`) and deleted
      // by their ctid: a generic plan made without statistics hash-joined a scan of every pending
      // entry into each batch (1.6 ms a batch with a few thousand pending, nothing to delete).
      // A ctid names one row version: an entry updated meanwhile would be skipped, not deleted.
      // None is: every writer of a gated entry locks its task row first, and the dependents
      // these entries belong to are locked by this transaction (the `locked` CTE above), or
      // claimed already, and a claim deletes the entry rather than updating it.
      await tx.query(
        `with closed as (delete from queue_open_gates where task_id = any($1))
         delete from queue_pending p where p.ctid = any(array(
           select g.ctid from unnest($1::text[], $2::text[]) as r(task_id, resolution)
           cross join lateral (
             select q.ctid from queue_pending q
             where q.gate = r.task_id and (r.resolution = 'completed' or q.gate_any) offset 0
           ) g))`,
        [res.rows.map((r) => r.taskId), res.rows.map((r) => r.resolution)],
      );
      return res.rows.length;
    });
  }
}
