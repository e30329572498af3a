import type { Logger } from 'pino';
import type { Database } from '../../platform/db/index.ts';
import { scheduleTasks } from './transitions.ts';

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
      // Every edge these resolutions satisfy, and each dependent's counter, in one statement.
      const ready = await tx.query<{ taskId: string; unsatisfied: number; unscheduled: boolean }>(
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
         )
         update queue_tasks t set unsatisfied = t.unsatisfied - counts.n
         from counts where t.task_id = counts.dependent_task_id
         returning t.task_id as "taskId", t.unsatisfied, t.runs = '[]'::jsonb as unscheduled`,
        [res.rows.map((r) => r.taskId), res.rows.map((r) => r.resolution)],
      );
      await scheduleTasks(
        tx,
        ready.rows.filter((r) => r.unsatisfied === 0 && r.unscheduled).map((r) => r.taskId),
        this.now(),
      );
      return res.rows.length;
    });
  }
}
