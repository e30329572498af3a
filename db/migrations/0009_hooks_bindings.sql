-- Pulse bindings of hooks. Each hook with bindings has a durable queue on the bus; this is the
-- record of which bindings are in place on it, so a change unbinds exactly what was removed.
create table hooks_queues (
  hook_group_id text not null,
  hook_id text not null,
  queue_name text not null,
  bindings jsonb not null,
  primary key (hook_group_id, hook_id)
);

-- Pulse messages a hook has handled (done) or is handling (leased until a time, after which a
-- redelivery takes over: the handler died): a redelivered message fires once, with the same taskId
-- and time as its first attempt.
create table hooks_pulse_fires (
  hook_group_id text not null,
  hook_id text not null,
  message_id text not null,
  task_id text not null,
  fired_at timestamptz not null,
  done boolean not null default false,
  leased_until timestamptz,
  expires timestamptz not null,
  primary key (hook_group_id, hook_id, message_id)
);
create index hooks_pulse_fires_expires on hooks_pulse_fires (expires);

create index hooks_last_fires_expires on hooks_last_fires (expires);
