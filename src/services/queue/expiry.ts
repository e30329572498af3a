import type { Queryable } from '../../platform/db/index.ts';
import { expireLiveLogs } from './live-log-db.ts';

export interface ExpiryCounts {
  tasks: number;
  taskGroups: number;
  dependencies: number;
  artifacts: number;
  workers: number;
  taskQueues: number;
  provisioners: number;
  liveLogChunks: number;
}

/** Rows removed per statement, so expiry never holds long locks or builds huge transactions. */
const BATCH = 1000;

/**
 * Deletes what is past its `expires`: tasks (with their pending entries), task groups,
 * dependency edges, artifacts, workers, task queues and provisioners. Each statement deletes a
 * bounded batch of rows it locks with SKIP LOCKED, so several processes can run it at once.
 * `onArtifactsExpired` is given the blob keys of expired artifacts to delete from the store.
 */
export async function expireQueueData(
  q: Queryable,
  now: Date,
  onArtifactsExpired?: (
    rows: Array<{ taskId: string; runId: number; name: string; storageType: string }>,
  ) => Promise<void>,
): Promise<ExpiryCounts> {
  const drain = async (table: string): Promise<number> => {
    let total = 0;
    for (;;) {
      const res = await q.query(
        `delete from ${table} where ctid in (
           select ctid from ${table} where expires < $1 limit ${BATCH} for update skip locked)`,
        [now],
      );
      total += res.rowCount ?? 0;
      if ((res.rowCount ?? 0) < BATCH) return total;
    }
  };
  let artifacts = 0;
  for (;;) {
    const res = await q.query<{ taskId: string; runId: number; name: string; storageType: string }>(
      `delete from queue_artifacts where ctid in (
         select ctid from queue_artifacts where expires < $1 limit ${BATCH} for update skip locked)
       returning task_id as "taskId", run_id as "runId", name, storage_type as "storageType"`,
      [now],
    );
    artifacts += res.rows.length;
    if (res.rows.length && onArtifactsExpired) await onArtifactsExpired(res.rows);
    if (res.rows.length < BATCH) break;
  }
  let tasks = 0;
  for (;;) {
    const res = await q.query<{ taskId: string }>(
      `delete from queue_tasks where task_id in (
         select task_id from queue_tasks where expires < $1 limit ${BATCH} for update skip locked)
       returning task_id as "taskId"`,
      [now],
    );
    tasks += res.rows.length;
    if (res.rows.length) {
      await q.query('delete from queue_pending where task_id = any($1)', [res.rows.map((r) => r.taskId)]);
    }
    if (res.rows.length < BATCH) break;
  }
  return {
    tasks,
    artifacts,
    taskGroups: await drain('queue_task_groups'),
    dependencies: await drain('queue_task_dependencies'),
    workers: await drain('queue_workers'),
    taskQueues: await drain('queue_task_queues'),
    provisioners: await drain('queue_provisioners'),
    liveLogChunks: await expireLiveLogs(q, now, BATCH),
  };
}
