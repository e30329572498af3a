-- The queue service: tasks and their runs, dependencies (as counters), task groups, the pending
-- queue that claimWork reads, task queues and workers, artifacts.

create table queue_tasks (
  task_id text primary key,
  task_group_id text not null,
  scheduler_id text not null,
  project_id text not null,
  task_queue_id text not null,
  dependencies jsonb not null,
  requires text not null check (requires in ('all-completed', 'all-resolved')),
  routes jsonb not null,
  priority text not null,
  retries integer not null,
  retries_left integer not null,
  created timestamptz not null,
  deadline timestamptz not null,
  expires timestamptz not null,
  scopes jsonb not null,
  payload jsonb not null,
  metadata jsonb not null,
  tags jsonb not null,
  extra jsonb not null,
  -- The runs as Taskcluster shows them: [{runId, state, reasonCreated, ...}], newest last.
  runs jsonb not null default '[]',
  -- takenUntil of the running run, for the claim-expiry loop; null when nothing runs.
  taken_until timestamptz,
  -- Dependencies not yet satisfied; the task becomes pending when this reaches 0.
  unsatisfied integer not null default 0,
  -- True once the task has been resolved at least once (the group counter counts it then).
  ever_resolved boolean not null default false,
  -- Unresolved and before its deadline: what the deadline loop looks at.
  resolved boolean not null default false
);
create index queue_tasks_group on queue_tasks (task_group_id, task_id);
create index queue_tasks_taken_until on queue_tasks (taken_until) where taken_until is not null;
create index queue_tasks_deadline on queue_tasks (deadline) where not resolved;
create index queue_tasks_expires on queue_tasks (expires);

-- One row per (dependent, dependency) edge. `satisfied` flips once; the dependent's counter
-- drops with it, so resolving a task costs O(its dependents).
create table queue_task_dependencies (
  required_task_id text not null,
  dependent_task_id text not null,
  requires text not null,
  satisfied boolean not null default false,
  expires timestamptz not null,
  primary key (required_task_id, dependent_task_id)
);
create index queue_task_dependencies_dependent on queue_task_dependencies (dependent_task_id);
create index queue_task_dependencies_expires on queue_task_dependencies (expires);

-- Resolved tasks whose dependents have not been examined yet; drained by the dependency loop.
create table queue_resolved_tasks (
  id bigserial primary key,
  task_id text not null,
  resolution text not null
);

create table queue_task_groups (
  task_group_id text primary key,
  scheduler_id text not null,
  expires timestamptz not null,
  sealed timestamptz,
  -- Tasks of the group that are not resolved (a rerun makes one unresolved again).
  unresolved integer not null default 0
);
create index queue_task_groups_expires on queue_task_groups (expires);

-- Pending runs waiting for a worker, in claim order: priority first, then age.
create table queue_pending (
  task_queue_id text not null,
  priority integer not null,
  task_id text not null,
  run_id integer not null,
  inserted bigserial,
  primary key (task_id, run_id)
);
create index queue_pending_claim on queue_pending (task_queue_id, priority desc, inserted);

create table queue_task_queues (
  task_queue_id text primary key,
  expires timestamptz not null,
  last_date_active timestamptz not null,
  description text not null default '',
  stability text not null default 'experimental'
);

create table queue_provisioners (
  provisioner_id text primary key,
  expires timestamptz not null,
  last_date_active timestamptz not null,
  description text not null default '',
  stability text not null default 'experimental',
  actions jsonb not null default '[]'
);

create table queue_workers (
  task_queue_id text not null,
  worker_group text not null,
  worker_id text not null,
  quarantine_until timestamptz,
  quarantine_details jsonb not null default '[]',
  expires timestamptz not null,
  first_claim timestamptz not null,
  last_date_active timestamptz,
  recent_tasks jsonb not null default '[]',
  primary key (task_queue_id, worker_group, worker_id)
);
create index queue_workers_expires on queue_workers (expires);

create table queue_artifacts (
  task_id text not null,
  run_id integer not null,
  name text not null,
  storage_type text not null,
  content_type text not null,
  details jsonb not null,
  present boolean not null,
  expires timestamptz not null,
  primary key (task_id, run_id, name)
);
create index queue_artifacts_expires on queue_artifacts (expires);
