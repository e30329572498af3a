-- The hooks service: task templates fired by schedule, by API call, or by pulse message.
create table hooks (
  hook_group_id text not null,
  hook_id text not null,
  metadata jsonb not null,
  task jsonb not null,
  bindings jsonb not null,
  schedule jsonb not null,
  trigger_schema jsonb not null,
  trigger_token text not null,
  -- The next scheduled fire (null without a schedule) and the taskId it will create.
  next_scheduled_date timestamptz,
  next_task_id text not null,
  primary key (hook_group_id, hook_id)
);
create index hooks_next_scheduled on hooks (next_scheduled_date) where next_scheduled_date is not null;

-- The outcome of each fire of a hook.
create table hooks_last_fires (
  id bigserial primary key,
  hook_group_id text not null,
  hook_id text not null,
  fired_by text not null,
  task_id text not null,
  task_create_time timestamptz not null,
  result text not null,
  error text not null,
  expires timestamptz not null
);
create index hooks_last_fires_hook on hooks_last_fires (hook_group_id, hook_id, id);
