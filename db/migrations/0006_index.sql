-- The index service: tasks found by name. An index path such as `project.branch.latest` is an
-- entry (`name` = its last segment) in a namespace (the segments before it, '' at the top).

-- The task at each index path: the one indexed with the highest rank (the latest among equals).
create table index_tasks (
  namespace text not null,
  name text not null,
  rank double precision not null,
  task_id text not null,
  data jsonb not null,
  expires timestamptz not null,
  primary key (namespace, name)
);
create index index_tasks_expires on index_tasks (expires);

-- The namespaces above the entries, each expiring no earlier than the entries below it.
create table index_namespaces (
  parent text not null,
  name text not null,
  expires timestamptz not null,
  primary key (parent, name)
);
create index index_namespaces_expires on index_namespaces (expires);

-- The latest indexing attempts at each path (the service keeps the last few per path).
create table index_history (
  id bigserial primary key,
  path text not null,
  task_id text not null,
  run_id integer,
  -- The task's state when it was indexed from an event (completed, failed, exception); null for insertTask.
  state text,
  rank double precision not null,
  -- Whether the attempt became the entry at the path (false: an entry of higher rank was there).
  indexed boolean not null,
  source text not null,
  at timestamptz not null,
  expires timestamptz not null
);
create index index_history_path on index_history (path, id);
create index index_history_expires on index_history (expires);

-- Task events already handled, so a redelivered event changes nothing. Kept until the task expires.
create table index_handled_events (
  task_id text not null,
  run_id integer not null,
  exchange text not null,
  expires timestamptz not null,
  primary key (task_id, run_id, exchange)
);
create index index_handled_events_expires on index_handled_events (expires);
