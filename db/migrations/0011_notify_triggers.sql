-- Notifications sent by the database itself when rows arrive, instead of a separate
-- `select pg_notify(...)` round trip after each insert. Sent on commit only, and duplicates
-- within one transaction collapse into one, exactly as the explicit calls did.

-- A new outbox event wakes the relay.
create function taskyard_outbox_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('taskyard_outbox', '');
  return null;
end $$;
create trigger event_outbox_notify after insert on event_outbox
  for each statement execute function taskyard_outbox_notify();

-- A new pending run wakes the claimWork waiters of its task queue.
create function taskyard_queue_pending_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('taskyard_queue_pending', new.task_queue_id);
  return null;
end $$;
create trigger queue_pending_notify after insert on queue_pending
  for each row execute function taskyard_queue_pending_notify();

-- A resolved task wakes the dependency resolver.
create function taskyard_queue_resolved_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('taskyard_queue_resolved', '');
  return null;
end $$;
create trigger queue_resolved_tasks_notify after insert on queue_resolved_tasks
  for each statement execute function taskyard_queue_resolved_notify();
