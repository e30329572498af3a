/** The hooks service's SQL: hook definitions and their last fires. */
import type { Queryable } from '../../platform/db/index.ts';

export interface HookRow {
  hookGroupId: string;
  hookId: string;
  metadata: { name: string; description: string; owner: string; emailOnError?: boolean };
  task: Record<string, unknown>;
  bindings: { exchange: string; routingKeyPattern: string }[];
  schedule: string[];
  triggerSchema: Record<string, unknown>;
  triggerToken: string;
  nextScheduledDate: Date | null;
  nextTaskId: string;
}

const COLS = `hook_group_id as "hookGroupId", hook_id as "hookId", metadata, task, bindings, schedule,
  trigger_schema as "triggerSchema", trigger_token as "triggerToken",
  next_scheduled_date as "nextScheduledDate", next_task_id as "nextTaskId"`;

export async function getHook(
  q: Queryable,
  g: string,
  h: string,
  lock = false,
): Promise<HookRow | undefined> {
  const res = await q.query<HookRow>(
    `select ${COLS} from hooks where hook_group_id = $1 and hook_id = $2${lock ? ' for update' : ''}`,
    [g, h],
  );
  return res.rows[0];
}

export async function listHooks(q: Queryable, g: string): Promise<HookRow[]> {
  return (await q.query<HookRow>(`select ${COLS} from hooks where hook_group_id = $1 order by hook_id`, [g]))
    .rows;
}

export async function listGroups(q: Queryable): Promise<string[]> {
  const res = await q.query<{ g: string }>('select distinct hook_group_id as g from hooks order by 1');
  return res.rows.map((r) => r.g);
}

/** Inserts a hook; false when one exists with that id. */
export async function insertHook(q: Queryable, row: HookRow): Promise<boolean> {
  const res = await q.query(
    `insert into hooks (hook_group_id, hook_id, metadata, task, bindings, schedule, trigger_schema,
       trigger_token, next_scheduled_date, next_task_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) on conflict do nothing`,
    hookValues(row),
  );
  return res.rowCount === 1;
}

export async function updateHook(q: Queryable, row: HookRow): Promise<void> {
  await q.query(
    `update hooks set metadata = $3, task = $4, bindings = $5, schedule = $6, trigger_schema = $7,
       trigger_token = $8, next_scheduled_date = $9, next_task_id = $10
     where hook_group_id = $1 and hook_id = $2`,
    hookValues(row),
  );
}

function hookValues(row: HookRow): unknown[] {
  return [
    row.hookGroupId,
    row.hookId,
    JSON.stringify(row.metadata),
    JSON.stringify(row.task),
    JSON.stringify(row.bindings),
    JSON.stringify(row.schedule),
    JSON.stringify(row.triggerSchema),
    row.triggerToken,
    row.nextScheduledDate,
    row.nextTaskId,
  ];
}

/** Deletes a hook and its last fires; false when there was no such hook. */
export async function deleteHook(q: Queryable, g: string, h: string): Promise<boolean> {
  const res = await q.query('delete from hooks where hook_group_id = $1 and hook_id = $2', [g, h]);
  await q.query('delete from hooks_last_fires where hook_group_id = $1 and hook_id = $2', [g, h]);
  return res.rowCount === 1;
}

/** Hooks whose next scheduled fire is due, locked (others skip them). */
export async function dueHooks(q: Queryable, now: Date, limit: number): Promise<HookRow[]> {
  const res = await q.query<HookRow>(
    `select ${COLS} from hooks where next_scheduled_date <= $1
     order by next_scheduled_date limit $2 for update skip locked`,
    [now, limit],
  );
  return res.rows;
}

export async function setNextScheduled(
  q: Queryable,
  g: string,
  h: string,
  next: Date | null,
  nextTaskId: string,
): Promise<void> {
  await q.query(
    'update hooks set next_scheduled_date = $3, next_task_id = $4 where hook_group_id = $1 and hook_id = $2',
    [g, h, next, nextTaskId],
  );
}

export interface LastFireRow {
  id: string;
  hookGroupId: string;
  hookId: string;
  firedBy: string;
  taskId: string;
  taskCreateTime: Date;
  result: 'success' | 'error';
  error: string;
}

export async function insertLastFire(q: Queryable, f: Omit<LastFireRow, 'id'>, expires: Date): Promise<void> {
  await q.query(
    `insert into hooks_last_fires (hook_group_id, hook_id, fired_by, task_id, task_create_time, result, error, expires)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [f.hookGroupId, f.hookId, f.firedBy, f.taskId, f.taskCreateTime, f.result, f.error, expires],
  );
}

/** Last fires of a hook, newest first, below id `before`. */
export async function listLastFires(
  q: Queryable,
  g: string,
  h: string,
  before: string | undefined,
  limit: number,
): Promise<LastFireRow[]> {
  const res = await q.query<LastFireRow>(
    `select id::text as id, hook_group_id as "hookGroupId", hook_id as "hookId", fired_by as "firedBy",
       task_id as "taskId", task_create_time as "taskCreateTime", result, error
     from hooks_last_fires where hook_group_id = $1 and hook_id = $2 and ($3::bigint is null or id < $3)
     order by id desc limit $4`,
    [g, h, before ?? null, limit],
  );
  return res.rows;
}

export async function expireLastFires(q: Queryable, now: Date): Promise<number> {
  return (await q.query('delete from hooks_last_fires where expires < $1', [now])).rowCount ?? 0;
}

export interface Binding {
  exchange: string;
  routingKeyPattern: string;
}

export interface HookBindings {
  hookGroupId: string;
  hookId: string;
  bindings: Binding[];
}

/** Every hook that has bindings. */
export async function hooksWithBindings(q: Queryable): Promise<HookBindings[]> {
  const res = await q.query<HookBindings>(
    `select hook_group_id as "hookGroupId", hook_id as "hookId", bindings from hooks
     where jsonb_array_length(bindings) > 0`,
  );
  return res.rows;
}

export interface HookQueueRow extends HookBindings {
  queueName: string;
}

/** The hooks' queues and the bindings in place on them. */
export async function hookQueues(q: Queryable): Promise<HookQueueRow[]> {
  const res = await q.query<HookQueueRow>(
    `select hook_group_id as "hookGroupId", hook_id as "hookId", queue_name as "queueName", bindings
     from hooks_queues`,
  );
  return res.rows;
}

export async function upsertHookQueue(q: Queryable, row: HookQueueRow): Promise<void> {
  await q.query(
    `insert into hooks_queues (hook_group_id, hook_id, queue_name, bindings) values ($1, $2, $3, $4)
     on conflict (hook_group_id, hook_id) do update set queue_name = $3, bindings = $4`,
    [row.hookGroupId, row.hookId, row.queueName, JSON.stringify(row.bindings)],
  );
}

export async function deleteHookQueue(q: Queryable, g: string, h: string): Promise<void> {
  await q.query('delete from hooks_queues where hook_group_id = $1 and hook_id = $2', [g, h]);
}

export interface PulseFireClaim {
  taskId: string;
  firedAt: Date;
  done: boolean;
}

/** Records the first attempt at firing a hook for a message (a no-op when one exists). */
export async function insertPulseFire(
  q: Queryable,
  g: string,
  h: string,
  messageId: string,
  taskId: string,
  now: Date,
  expires: Date,
): Promise<void> {
  await q.query(
    `insert into hooks_pulse_fires (hook_group_id, hook_id, message_id, task_id, fired_at, expires)
     values ($1, $2, $3, $4, $5, $6) on conflict do nothing`,
    [g, h, messageId, taskId, now, expires],
  );
}

/**
 * Takes the fire of a message for `leaseMs`: undefined when it is done or another handler holds an
 * unexpired lease (`done` tells which).
 */
export async function leasePulseFire(
  q: Queryable,
  g: string,
  h: string,
  messageId: string,
  now: Date,
  leaseMs: number,
): Promise<{ claim?: PulseFireClaim; done: boolean }> {
  const res = await q.query<PulseFireClaim>(
    `update hooks_pulse_fires set leased_until = $4
     where hook_group_id = $1 and hook_id = $2 and message_id = $3 and not done
       and (leased_until is null or leased_until < $5)
     returning task_id as "taskId", fired_at as "firedAt", done`,
    [g, h, messageId, new Date(now.getTime() + leaseMs), now],
  );
  if (res.rows[0]) return { claim: res.rows[0], done: false };
  const done = await q.query<{ done: boolean }>(
    'select done from hooks_pulse_fires where hook_group_id = $1 and hook_id = $2 and message_id = $3',
    [g, h, messageId],
  );
  return { done: done.rows[0]?.done ?? false };
}

export async function completePulseFire(
  q: Queryable,
  g: string,
  h: string,
  messageId: string,
): Promise<void> {
  await q.query(
    `update hooks_pulse_fires set done = true, leased_until = null
     where hook_group_id = $1 and hook_id = $2 and message_id = $3`,
    [g, h, messageId],
  );
}

export async function expirePulseFires(q: Queryable, now: Date): Promise<number> {
  return (await q.query('delete from hooks_pulse_fires where expires < $1', [now])).rowCount ?? 0;
}
