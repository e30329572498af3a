-- Event payloads are kept as the JSON text the service wrote (json, not jsonb): PostgreSQL only
-- checks the syntax on insert instead of building a binary document, and the relay publishes the
-- text it reads back as it is, without parsing and serializing it again. Nothing queries inside
-- the payloads. The outbox holds only events not yet published, so the rewrite is short.
alter table event_outbox alter column payload type json using payload::json;
