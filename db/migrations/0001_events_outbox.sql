-- Transactional outbox: a state change and its Pulse events commit together;
-- the relay publishes rows in id order and deletes them once the broker confirmed.
CREATE TABLE event_outbox (
  id bigserial PRIMARY KEY,
  exchange text NOT NULL,
  routing_key text NOT NULL,
  cc text[] NOT NULL DEFAULT '{}',
  payload jsonb NOT NULL,
  created timestamptz NOT NULL DEFAULT now()
);
