-- The notify service: denylist, what was sent (so a redelivered event sends nothing twice) and
-- the per-address email rate limit shared by every process.

-- Addresses notifications are never sent to, by channel.
create table notify_denylist (
  notification_type text not null,
  notification_address text not null,
  primary key (notification_type, notification_address)
);

-- One row per notification of an event: `task/<taskId>/<runId>/<exchange>/<route>` for task
-- routes, `group/<taskGroupId>/<resolution>/<route>` for group resolutions. `sending` is a claim
-- (taken over once older than the lease: the sender crashed); the others are final.
create table notify_sends (
  send_key text primary key,
  state text not null check (state in ('sending', 'sent', 'dropped', 'failed')),
  -- Why a notification was dropped or failed (denylisted, rate-limited, not-configured, ...).
  detail text,
  claimed_at timestamptz not null,
  expires timestamptz not null
);
create index notify_sends_expires on notify_sends (expires);

-- Emails sent (or being sent) per address, for the sliding-window rate limit.
create table notify_email_sends (
  id bigserial primary key,
  address text not null,
  sent_at timestamptz not null
);
create index notify_email_sends_address on notify_email_sends (address, sent_at);
create index notify_email_sends_sent_at on notify_email_sends (sent_at);
