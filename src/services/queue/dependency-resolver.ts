import type { Logger } from 'pino';
import type { Database } from '../../platform/db/index.ts';
import { scheduleTasks } from './transitions.ts';

/**
 * The dependency loop: takes resolutions recorded by resolveRun (queue_resolved_tasks), marks
 * the matching dependency edges satisfied, and schedules dependents whose counter reaches zero.
 * It costs O(dependents) per resolution and runs outside the worker's request. Rows are taken
 * with SKIP LOCKED, so any number of processes can run it; one resolution is handled in one
 * transaction, exactly once.
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
      for (const row of res.rows) {
        const ready = await tx.query<{ taskId: string }>(
          `with sat as (
             update queue_task_dependencies set satisfied = true
             where required_task_id = $1 and not satisfied and (requires = 'all-resolved' or $2 = 'completed')
             returning dependent_task_id
           )
           update queue_tasks t set unsatisfied = t.unsatisfied - 1
           from sat where t.task_id = sat.dependent_task_id
           returning t.task_id as "taskId", t.unsatisfied, t.runs = '[]'::jsonb as unscheduled`,
          [row.taskId, row.resolution],
        );
        const rows = ready.rows as Array<{ taskId: string; unsatisfied: number; unscheduled: boolean }>;
        await scheduleTasks(
          tx,
          rows.filter((r) => r.unsatisfied === 0 && r.unscheduled).map((r) => r.taskId),
          this.now(),
        );
      }
      return res.rows.length;
    });
  }
}
