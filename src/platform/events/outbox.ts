import type { Static, TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { notifyAfterCommit, type Queryable } from '../db/database.ts';
import {
  buildRoutingKey,
  type ExchangeDeclaration,
  exchangeName,
  MAX_ROUTING_KEY_BYTES,
  type RoutingValues,
  type ServiceExchanges,
} from './exchanges.ts';
import { ensureFormats } from './formats.ts';

/** The NOTIFY channel the relay LISTENs on. */
export const OUTBOX_CHANNEL = 'taskyard_outbox';

const CC_PREFIX = 'route.';

const checkers = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor(schema: TSchema): TypeCheck<TSchema> {
  let checker = checkers.get(schema);
  if (!checker) {
    ensureFormats();
    checker = TypeCompiler.Compile(schema);
    checkers.set(schema, checker);
  }
  return checker;
}

/** Turns a task's `routes` into the CC routing keys Pulse consumers bind to (`route.<route>`). */
export function routesToCC(routes: readonly string[]): string[] {
  return routes.map((route) => CC_PREFIX + route);
}

/** One outbox row, checked and serialized: what `insertOutboxRows` writes. */
export interface OutboxRow {
  exchange: string;
  routingKey: string;
  cc: string[];
  /** The message, as JSON. */
  payload: string;
}

/**
 * Checks an event and makes its outbox row. An invalid payload or routing key throws: that is a
 * bug in our code, not bad user input. `cc` are full CC routing keys, each starting with `route.`
 * (see `routesToCC`), so they can never collide with primary routing keys.
 */
export function outboxRow<T extends TSchema>(
  svc: ServiceExchanges,
  decl: ExchangeDeclaration<T>,
  payload: Static<T>,
  routingValues: RoutingValues,
  cc: readonly string[] = [],
): OutboxRow {
  const exchange = exchangeName(svc, decl);
  const checker = checkerFor(decl.schema);
  if (!checker.Check(payload)) {
    const first = checker.Errors(payload).First();
    const path = first?.path || '/';
    throw new Error(`invalid message for ${exchange}: ${path}: ${first?.message ?? 'does not match schema'}`);
  }
  const routingKey = buildRoutingKey(decl, routingValues);
  for (const key of cc) {
    if (!key.startsWith(CC_PREFIX) || key.length === CC_PREFIX.length) {
      throw new Error(`CC routing key ${JSON.stringify(key)} for ${exchange} must start with 'route.'`);
    }
    if (Buffer.byteLength(key, 'utf8') > MAX_ROUTING_KEY_BYTES) {
      throw new Error(`CC routing key for ${exchange} exceeds ${MAX_ROUTING_KEY_BYTES} bytes: ${key}`);
    }
  }
  // Serialized here: pg would turn a top-level array into a PostgreSQL array literal.
  return { exchange, routingKey, cc: [...cc], payload: JSON.stringify(payload) };
}

/**
 * The INSERT that writes the outbox rows in a JSON array (the parameter `jsonParam`, e.g. `$1`,
 * holding `JSON.stringify(rows)`), in order. `onlyIf` names a relation (say a CTE of the same
 * statement) that must have a row for anything to be written, so a larger statement can write its
 * events with its other changes. The caller notifies OUTBOX_CHANNEL after commit.
 */
export function outboxInsertSql(jsonParam: string, onlyIf?: string): string {
  return `INSERT INTO event_outbox (exchange, routing_key, cc, payload)
       SELECT e ->> 'exchange', e ->> 'routingKey', ARRAY(SELECT jsonb_array_elements_text(e -> 'cc')),
         (e ->> 'payload')::json
       FROM jsonb_array_elements(${jsonParam}::jsonb) WITH ORDINALITY AS r(e, n)
       ${onlyIf ? `WHERE EXISTS (SELECT FROM ${onlyIf})` : ''}
       ORDER BY n`;
}

/**
 * Writes events in the caller's transaction, in order, with one statement: the relay publishes
 * them after commit, and never if the transaction rolls back. The relays are notified on
 * OUTBOX_CHANNEL once the transaction commits.
 */
export async function insertOutboxRows(tx: Queryable, rows: readonly OutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  if (rows.length === 1) {
    const [r] = rows;
    await tx.query('INSERT INTO event_outbox (exchange, routing_key, cc, payload) VALUES ($1, $2, $3, $4)', [
      r.exchange,
      r.routingKey,
      r.cc,
      r.payload,
    ]);
  } else {
    await tx.query(outboxInsertSql('$1'), [JSON.stringify(rows)]);
  }
  await notifyAfterCommit(tx, OUTBOX_CHANNEL, '');
}

/** Records one event in the caller's transaction (see `outboxRow` and `insertOutboxRows`). */
export async function enqueueEvent<T extends TSchema>(
  tx: Queryable,
  svc: ServiceExchanges,
  decl: ExchangeDeclaration<T>,
  payload: Static<T>,
  routingValues: RoutingValues,
  cc: readonly string[] = [],
): Promise<void> {
  await insertOutboxRows(tx, [outboxRow(svc, decl, payload, routingValues, cc)]);
}
