/**
 * reportCompleted and reportFailed, batched: the reports that arrive while every write slot is
 * busy wait and are written together in the next free one, in one transaction of a fixed number of
 * statements (lock the tasks, save them, write their events, count their groups), instead of a
 * transaction of six round trips each. Each report still gets its own answer: the status, a 404,
 * or a 409, exactly as it would alone. A failure of the batch's transaction fails each of its
 * reports (a deadlock or serialization failure is retried first, by Database.transaction).
 */
import { Batcher, type Outcome } from '../../platform/batcher.ts';
import { notifyAfterCommit } from '../../platform/db/index.ts';
import { ApiError } from '../../platform/errors.ts';
import { insertOutboxRows, type OutboxRow } from '../../platform/events/index.ts';
import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { taskEventRow } from './events.ts';
import { LIVE_LOG_CHANNEL } from './live-log-db.ts';
import type { Run, TaskRecord } from './task-record.ts';
import { countResolutions } from './transitions.ts';

/** The most reports written in one transaction. */
const MAX_BATCH = 200;
/** Report transactions in flight at once (see Batcher). */
const CONCURRENCY = 4;

interface Report {
  taskId: string;
  runId: number;
  target: 'completed' | 'failed';
}

export class ResolutionBatcher {
  private readonly batcher = new Batcher<Report, TaskRecord>((batch) => this.write(batch), {
    maxBatch: MAX_BATCH,
    concurrency: CONCURRENCY,
  });

  constructor(
    private readonly ctx: QueueContext,
    /** The 409 for a run that is not running (shared with the unbatched endpoints). */
    private readonly notRunning: (taskId: string, runId: number, run: Run) => ApiError,
  ) {}

  /** Resolves run `runId` of the task as `target`; the task as it is afterwards. */
  report(taskId: string, runId: number, target: 'completed' | 'failed'): Promise<TaskRecord> {
    return this.batcher.submit({ taskId, runId, target });
  }

  /** One transaction for the whole batch; the outcome of each report, in order. */
  private write(batch: Report[]): Promise<Array<Outcome<TaskRecord>>> {
    return this.ctx.database.transaction(async (tx) => {
      const now = this.ctx.now();
      const ids = [...new Set(batch.map((r) => r.taskId))].sort();
      // Locked in one order everywhere (task ids sorted), so concurrent batches cannot deadlock.
      const tasks = new Map((await db.getTasks(tx, ids, { forUpdate: true })).map((t) => [t.taskId, t]));
      const changed = new Map<string, { task: TaskRecord; resolution: string }>();
      const events: OutboxRow[] = [];
      const outcomes = batch.map(({ taskId, runId, target }) => {
        const task = tasks.get(taskId);
        if (!task) return { error: new ApiError('ResourceNotFound', `task ${taskId} not found`) };
        const run = task.runs[runId];
        if (!run) {
          return {
            error: new ApiError(
              'ResourceNotFound',
              `task ${taskId} has no run ${runId} (its runs are 0..${task.runs.length - 1})`,
            ),
          };
        }
        // The same outcome again on the latest run is a no-op.
        if (run.state === target && runId === task.runs.length - 1) return { task };
        if (run.state !== 'running') return { error: this.notRunning(taskId, runId, run) };
        run.state = target;
        run.reasonResolved = target;
        run.resolved = now.toJSON();
        task.takenUntil = null;
        task.resolved = true;
        task.everResolved = true;
        changed.set(taskId, { task, resolution: target });
        const worker = run.workerGroup ? { workerGroup: run.workerGroup, workerId: run.workerId } : {};
        events.push(
          taskEventRow(target === 'completed' ? 'task-completed' : 'task-failed', task, { runId, ...worker }),
        );
        return { task, resolution: target };
      });
      if (changed.size > 0) {
        const saved = [...changed.values()].map((c) => c.task);
        await tx.query(
          `update queue_tasks t set runs = u.runs, taken_until = null, ever_resolved = true, resolved = true
           from unnest($1::text[], $2::jsonb[]) as u(task_id, runs) where t.task_id = u.task_id`,
          [saved.map((t) => t.taskId), saved.map((t) => JSON.stringify(t.runs))],
        );
        events.push(...(await countResolutions(tx, [...changed.values()])));
        await insertOutboxRows(tx, events);
        for (const t of saved) await notifyAfterCommit(tx, LIVE_LOG_CHANNEL, t.taskId, { localOnly: true });
      }
      return outcomes.map(({ task, error }) => (task ? { value: task } : { error }));
    });
  }
}
