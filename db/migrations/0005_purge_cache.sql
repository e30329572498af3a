-- The purge-cache service: one open purge request per (worker pool, cache name). Workers purge
-- their copy of the cache if it was created before `before`; the row goes once past `expires`.
create table purge_cache_requests (
  worker_pool_id text not null,
  cache_name text not null,
  before timestamptz not null,
  expires timestamptz not null,
  primary key (worker_pool_id, cache_name)
);
create index purge_cache_requests_expires on purge_cache_requests (expires);
