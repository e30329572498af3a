-- Lets a single statement refuse what it was asked to do: it raises P0001 with `reason` as the
-- message and `detail` as the detail, so every change the statement made is undone. Used where a
-- check and the writes it guards go to the server together (one round trip, no transaction
-- around them), e.g. createTask's "this task group is sealed". The caller turns the reason into
-- its own API error. Returns null (typed as text) when it does not raise, which never happens.

create function taskyard_refuse(reason text, detail text) returns text
language plpgsql volatile as $$
begin
  raise exception using errcode = 'P0001', message = reason, detail = coalesce(detail, '');
end;
$$;
