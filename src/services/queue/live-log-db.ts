/**
 * Live logs (queue_live_logs, queue_live_log_chunks): a run's log as chunks in byte-offset
 * order. Appends lock the log's header row, so concurrent appends to one log serialize, and hold
 * the task row with FOR SHARE, so a run cannot be resolved between the state check and the commit.
 */
import { notifyAfterCommit, type Queryable } from '../../platform/db/index.ts';

/** Channel of the notifications that wake followers: payload is the taskId. */
export const LIVE_LOG_CHANNEL = 'taskyard_live_log';

/** At most this many bytes of chunks are read per query (a chunk is at most 1 MiB more). */
export const READ_PAGE_BYTES = 4 * 1024 * 1024;

export interface RunInfo {
  /** The run's state, or undefined when the task has no such run. */
  state: string | undefined;
  expires: Date;
}

/** The state of run `runId` of a task, undefined when there is no such task. */
export async function runInfo(
  q: Queryable,
  taskId: string,
  runId: number,
  lock = false,
): Promise<RunInfo | undefined> {
  const res = await q.query<{ state: string | null; expires: Date }>(
    `select runs -> $2::int ->> 'state' as state, expires from queue_tasks where task_id = $1${
      lock ? ' for share' : ''
    }`,
    [taskId, runId],
  );
  const row = res.rows[0];
  return row ? { state: row.state ?? undefined, expires: row.expires } : undefined;
}

/** The log's length, locking its header row (created at length 0 when missing). */
export async function lockLog(q: Queryable, taskId: string, runId: number, expires: Date): Promise<number> {
  await q.query(
    `insert into queue_live_logs (task_id, run_id, length, expires) values ($1, $2, 0, $3)
     on conflict (task_id, run_id) do nothing`,
    [taskId, runId, expires],
  );
  const res = await q.query<{ length: string }>(
    'select length from queue_live_logs where task_id = $1 and run_id = $2 for update',
    [taskId, runId],
  );
  return Number(res.rows[0].length);
}

/** The log's length (0 when nothing was appended). */
export async function logLength(q: Queryable, taskId: string, runId: number): Promise<number> {
  const res = await q.query<{ length: string }>(
    'select length from queue_live_logs where task_id = $1 and run_id = $2',
    [taskId, runId],
  );
  return res.rows[0] ? Number(res.rows[0].length) : 0;
}

/**
 * The bytes of the log in [from, to), or fewer when `to` passes the end. Reads at most about
 * READ_PAGE_BYTES: callers loop until they have what they need.
 */
export async function readLog(
  q: Queryable,
  taskId: string,
  runId: number,
  from: number,
  to = Number.MAX_SAFE_INTEGER,
): Promise<Buffer> {
  const end = Math.min(to, from + READ_PAGE_BYTES);
  if (end <= from) return Buffer.alloc(0);
  const res = await q.query<{ start: string; data: Buffer }>(
    `select start_offset as start, data from queue_live_log_chunks
     where task_id = $1 and run_id = $2 and start_offset < $4
       and start_offset + octet_length(data) > $3
     order by start_offset`,
    [taskId, runId, from, end],
  );
  const parts: Buffer[] = [];
  let pos = from;
  for (const row of res.rows) {
    const start = Number(row.start);
    // Chunks are contiguous; a hole would be a bug in appendChunk, and must not be papered over.
    if (start > pos) throw new Error(`live log ${taskId}/${runId} has a hole at byte ${pos}`);
    const slice = row.data.subarray(pos - start, Math.min(row.data.length, end - start));
    parts.push(slice);
    pos += slice.length;
  }
  return Buffer.concat(parts);
}

/** Stores a chunk at `offset` (the log's locked length) and moves the length past it. */
export async function appendChunk(
  q: Queryable,
  taskId: string,
  runId: number,
  offset: number,
  data: Buffer,
  expires: Date,
): Promise<number> {
  await q.query(
    `insert into queue_live_log_chunks (task_id, run_id, start_offset, data, expires)
     values ($1, $2, $3, $4, $5)`,
    [taskId, runId, offset, data, expires],
  );
  const length = offset + data.length;
  await q.query('update queue_live_logs set length = $3 where task_id = $1 and run_id = $2', [
    taskId,
    runId,
    length,
  ]);
  await notifyAfterCommit(q, LIVE_LOG_CHANNEL, taskId);
  return length;
}

/** Deletes expired logs in batches that skip rows others hold; the number of chunks deleted. */
export async function expireLiveLogs(q: Queryable, now: Date, batch = 1000): Promise<number> {
  let total = 0;
  for (const table of ['queue_live_log_chunks', 'queue_live_logs']) {
    for (;;) {
      const res = await q.query(
        `delete from ${table} where ctid in (
           select ctid from ${table} where expires < $1 limit ${batch} for update skip locked)`,
        [now],
      );
      if (table === 'queue_live_log_chunks') total += res.rowCount ?? 0;
      if ((res.rowCount ?? 0) < batch) break;
    }
  }
  return total;
}
