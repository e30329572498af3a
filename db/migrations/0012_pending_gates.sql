-- Gated pending entries: a task waiting on exactly one unresolved dependency (its gate) gets its
-- pending entry when it is created, marked with that gate. Gated entries are not claimable (the
-- claim index leaves them out) until the gate resolves: the resolution's own transaction opens
-- the gate (queue_open_gates), and from its commit on claimWork takes the gated entries of open
-- gates. So every dependent of a task is claimable the moment the task resolves, however many
-- there are; the dependency loop then makes them pending in their rows (their status and
-- task-pending events), ungates their entries and closes the gate. A dependent claimed before
-- that gets its pending run and task-pending event from the claim.

alter table queue_pending
  -- The task whose resolution makes this entry claimable; null: claimable now.
  add column gate text,
  -- The entry's task requires all-resolved (any resolution of the gate opens it), not all-completed.
  add column gate_any boolean not null default false;

drop index queue_pending_claim;
create index queue_pending_claim on queue_pending (task_queue_id, priority desc, inserted) where gate is null;
create index queue_pending_gated on queue_pending (gate, task_queue_id, priority desc, inserted)
  where gate is not null;

-- Resolved tasks with gated entries waiting on them, until the dependency loop has handled the
-- resolution. `completed`: the resolution opens all-completed entries too.
create table queue_open_gates (
  task_id text primary key,
  completed boolean not null
);
