/** The index service's SQL: entries, namespaces, history and handled events. */
import type { Queryable } from '../../platform/db/index.ts';
import { ancestors, splitPath } from './namespaces.ts';

export interface IndexedTaskRow {
  namespace: string;
  name: string;
  rank: number;
  taskId: string;
  data: Record<string, unknown>;
  expires: Date;
}

export interface NamespaceRow {
  parent: string;
  name: string;
  expires: Date;
}

export interface HistoryRow {
  taskId: string;
  runId: number | null;
  state: string | null;
  rank: number;
  indexed: boolean;
  source: string;
  at: Date;
}

/** How many indexing attempts each path keeps in its history. */
export const HISTORY_LENGTH = 20;

const TASK_COLUMNS = `namespace, name, rank, task_id as "taskId", data, expires`;

export async function getIndexedTask(
  q: Queryable,
  path: string,
  now: Date,
): Promise<IndexedTaskRow | undefined> {
  const [namespace, name] = splitPath(path);
  const res = await q.query<IndexedTaskRow>(
    `select ${TASK_COLUMNS} from index_tasks where namespace = $1 and name = $2 and expires > $3`,
    [namespace, name, now],
  );
  return res.rows[0];
}

/** Entries directly in `namespace` (not expired), by name, after `after`. */
export async function listIndexedTasks(
  q: Queryable,
  namespace: string,
  now: Date,
  after: string | undefined,
  limit: number,
): Promise<IndexedTaskRow[]> {
  const res = await q.query<IndexedTaskRow>(
    `select ${TASK_COLUMNS} from index_tasks
     where namespace = $1 and expires > $2 and ($3::text is null or name > $3)
     order by name limit $4`,
    [namespace, now, after ?? null, limit],
  );
  return res.rows;
}

/** Namespaces directly in `parent` (not expired), by name, after `after`. */
export async function listNamespaces(
  q: Queryable,
  parent: string,
  now: Date,
  after: string | undefined,
  limit: number,
): Promise<NamespaceRow[]> {
  const res = await q.query<NamespaceRow>(
    `select parent, name, expires from index_namespaces
     where parent = $1 and expires > $2 and ($3::text is null or name > $3)
     order by name limit $4`,
    [parent, now, after ?? null, limit],
  );
  return res.rows;
}

/** The entries (not expired) at these paths, in the order asked, a page of them. */
export async function findIndexedTasks(
  q: Queryable,
  paths: string[],
  now: Date,
  offset: number,
  limit: number,
): Promise<IndexedTaskRow[]> {
  const split = paths.map(splitPath);
  const res = await q.query<IndexedTaskRow>(
    `select t.namespace, t.name, t.rank, t.task_id as "taskId", t.data, t.expires
     from unnest($1::text[], $2::text[]) with ordinality as i(namespace, name, pos)
     join index_tasks t on t.namespace = i.namespace and t.name = i.name
     where t.expires > $3
     order by i.pos offset $4 limit $5`,
    [split.map((s) => s[0]), split.map((s) => s[1]), now, offset, limit],
  );
  return res.rows;
}

export async function deleteIndexedTask(q: Queryable, path: string): Promise<void> {
  const [namespace, name] = splitPath(path);
  await q.query('delete from index_tasks where namespace = $1 and name = $2', [namespace, name]);
}

export interface IndexAttempt {
  taskId: string;
  rank: number;
  data: Record<string, unknown>;
  expires: Date;
}

export interface AttemptSource {
  source: 'event' | 'insertTask';
  runId?: number;
  state?: string;
  at: Date;
}

/**
 * Indexes a task at `path`: the entry is replaced when the new rank is at least the current one
 * (or the current entry has expired); then every namespace above it exists and expires no
 * earlier than the day after the entry. Records the attempt in the path's history. Answers the
 * entry as it is afterwards and whether this attempt became it.
 */
export async function indexTask(
  tx: Queryable,
  path: string,
  attempt: IndexAttempt,
  source: AttemptSource,
  now: Date,
): Promise<{ entry: IndexedTaskRow; indexed: boolean }> {
  const [namespace, name] = splitPath(path);
  const res = await tx.query<IndexedTaskRow>(
    `insert into index_tasks as t (namespace, name, rank, task_id, data, expires)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (namespace, name) do update
       set rank = excluded.rank, task_id = excluded.task_id, data = excluded.data, expires = excluded.expires
       where t.rank <= excluded.rank or t.expires <= $7
     returning ${TASK_COLUMNS}`,
    [namespace, name, attempt.rank, attempt.taskId, JSON.stringify(attempt.data), attempt.expires, now],
  );
  let entry = res.rows[0];
  const indexed = entry !== undefined;
  if (indexed) {
    await ensureNamespaces(tx, path, namespaceExpiry(attempt.expires));
  } else {
    // The conflicting row is locked by the insert above: it is still there.
    const current = await tx.query<IndexedTaskRow>(
      `select ${TASK_COLUMNS} from index_tasks where namespace = $1 and name = $2`,
      [namespace, name],
    );
    entry = current.rows[0];
  }
  await recordHistory(tx, path, attempt, source, indexed);
  return { entry, indexed };
}

/** Namespaces expire at the first midnight (UTC) after the entry, so they change at most daily. */
export function namespaceExpiry(entryExpires: Date): Date {
  const day = 86400e3;
  return new Date(Math.floor(entryExpires.getTime() / day) * day + day);
}

/** Creates the namespaces above `path`, outermost first, extending any that expire earlier. */
async function ensureNamespaces(tx: Queryable, path: string, expires: Date): Promise<void> {
  const rows = ancestors(path);
  if (rows.length === 0) return;
  await tx.query(
    `insert into index_namespaces as n (parent, name, expires)
     select parent, name, $3 from unnest($1::text[], $2::text[]) with ordinality as a(parent, name, pos)
     order by pos
     on conflict (parent, name) do update set expires = excluded.expires where n.expires < excluded.expires`,
    [rows.map((r) => r.parent), rows.map((r) => r.name), expires],
  );
}

async function recordHistory(
  tx: Queryable,
  path: string,
  attempt: IndexAttempt,
  source: AttemptSource,
  indexed: boolean,
): Promise<void> {
  await tx.query(
    `insert into index_history (path, task_id, run_id, state, rank, indexed, source, at, expires)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      path,
      attempt.taskId,
      source.runId ?? null,
      source.state ?? null,
      attempt.rank,
      indexed,
      source.source,
      source.at,
      attempt.expires,
    ],
  );
  await tx.query(
    `delete from index_history where path = $1 and id < (
       select min(id) from (select id from index_history where path = $1 order by id desc limit $2) newest)`,
    [path, HISTORY_LENGTH],
  );
}

/** The history of a path, newest first (expired attempts left out). */
export async function getHistory(q: Queryable, path: string, now: Date): Promise<HistoryRow[]> {
  const res = await q.query<HistoryRow>(
    `select task_id as "taskId", run_id as "runId", state, rank, indexed, source, at
     from index_history where path = $1 and expires > $2 order by id desc limit $3`,
    [path, now, HISTORY_LENGTH],
  );
  return res.rows;
}

/** Marks a task event as handled; false when it already was (a redelivery). */
export async function markEventHandled(
  tx: Queryable,
  event: { taskId: string; runId: number; exchange: string; expires: Date },
): Promise<boolean> {
  const res = await tx.query(
    `insert into index_handled_events (task_id, run_id, exchange, expires) values ($1, $2, $3, $4)
     on conflict do nothing`,
    [event.taskId, event.runId, event.exchange, event.expires],
  );
  return (res.rowCount ?? 0) > 0;
}

export interface ExpiryCounts {
  tasks: number;
  namespaces: number;
  history: number;
  handledEvents: number;
}

/** Rows removed per statement, so expiry never holds long locks or builds huge transactions. */
const BATCH = 1000;

/**
 * Deletes entries, namespaces, history and handled-event marks past their `expires`, in
 * bounded batches of rows locked with SKIP LOCKED (several processes may run it at once).
 */
export async function expireIndexData(q: Queryable, now: Date): Promise<ExpiryCounts> {
  const drain = async (table: string): Promise<number> => {
    let total = 0;
    for (;;) {
      const res = await q.query(
        `delete from ${table} where ctid in (
           select ctid from ${table} where expires < $1 limit ${BATCH} for update skip locked)`,
        [now],
      );
      total += res.rowCount ?? 0;
      if ((res.rowCount ?? 0) < BATCH) return total;
    }
  };
  return {
    tasks: await drain('index_tasks'),
    namespaces: await drain('index_namespaces'),
    history: await drain('index_history'),
    handledEvents: await drain('index_handled_events'),
  };
}
