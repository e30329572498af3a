-- Live logs of runs: the worker appends UTF-8 text while the run is running; readers follow it
-- (getLiveLog). A log is its chunks in offset order; `expires` is the task's, so the queue's
-- expiry removes the log with the task.

create table queue_live_logs (
  task_id text not null,
  run_id integer not null,
  -- Bytes of the log so far: the offset the next chunk must start at.
  length bigint not null default 0,
  expires timestamptz not null,
  primary key (task_id, run_id)
);
create index queue_live_logs_expires on queue_live_logs (expires);

create table queue_live_log_chunks (
  task_id text not null,
  run_id integer not null,
  -- Byte offset of the chunk's first byte in the log.
  start_offset bigint not null,
  data bytea not null,
  expires timestamptz not null,
  primary key (task_id, run_id, start_offset)
);
create index queue_live_log_chunks_expires on queue_live_log_chunks (expires);
