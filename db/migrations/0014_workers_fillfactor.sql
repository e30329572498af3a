-- A worker's row is updated on every claim (its recent tasks and last activity); leaving half of
-- each page free lets PostgreSQL write the new version beside the old one (a HOT update: no new
-- index entries) instead of on another page. Applies to pages written from now on.
alter table queue_workers set (fillfactor = 50);
