/**
 * Pulse bindings: every hook with `bindings` has a durable queue on the bus bound to them, and
 * each process with background loops consumes from it (competing consumers: each message fires the
 * hook once). The database is the truth; a reconciliation pass brings the bus and this process's
 * consumers in line with it. It runs at start, when any process changes a hook (PostgreSQL NOTIFY
 * on `HOOKS_CHANGED_CHANNEL`, sent in the change's transaction) and every
 * `RECONCILE_INTERVAL_MS` as a fallback.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import slugid from 'slugid';
import type { Queryable } from '../../platform/db/index.ts';
import {
  type Binding as BusBinding,
  bindingMatches,
  type Consumer,
  type DeliveredMessage,
  type EventBus,
} from '../../platform/events/index.ts';
import * as db from './db.ts';
import { fireHook, type HooksContext } from './fire.ts';
import { triggerPayloadProblem } from './validation.ts';

export const HOOKS_CHANGED_CHANNEL = 'taskyard_hooks_changed';
/** Fallback reconciliation period: the longest a missed notification delays a binding change. */
export const RECONCILE_INTERVAL_MS = 60_000;
/** How long a handled message id is remembered (redeliveries come much sooner). */
export const PULSE_FIRE_MEMORY_MS = 7 * 24 * 3600e3;
/** A fire of a message not completed within this is taken over by a redelivery (its handler died). */
export const PULSE_FIRE_LEASE_MS = 2 * 60_000;
/** Upstream's queue namespace for hooks: `queue/taskcluster-hooks/<hookGroupId>/<hookId>`. */
const QUEUE_PREFIX = 'queue/taskcluster-hooks/';
// Fixed advisory lock key ("tyhooks" in ASCII): one process at a time changes the bus's bindings.
const RECONCILE_LOCK_KEY = '32778117294106227';

/** Tells every hooks process (this one too) to reconcile, when `tx` commits. */
export async function notifyHooksChanged(tx: Queryable): Promise<void> {
  await tx.query('select pg_notify($1, $2)', [HOOKS_CHANGED_CHANNEL, '']);
}

/** The queue of a hook; names too long for AMQP (255 bytes) get a hash instead. */
export function hookQueueName(hookGroupId: string, hookId: string): string {
  const name = `${QUEUE_PREFIX}${hookGroupId}/${hookId}`;
  if (Buffer.byteLength(name) <= 255) return name;
  return `${QUEUE_PREFIX}sha256-${createHash('sha256').update(`${hookGroupId}/${hookId}`).digest('hex')}`;
}

const toBus = (bs: db.Binding[]): BusBinding[] =>
  bs.map((b) => ({ exchange: b.exchange, pattern: b.routingKeyPattern }));
const bindingKey = (b: db.Binding) => JSON.stringify([b.exchange, b.routingKeyPattern]);
const minus = (a: db.Binding[], b: db.Binding[]) => {
  const keys = new Set(b.map(bindingKey));
  return a.filter((x) => !keys.has(bindingKey(x)));
};

export class HookListeners {
  private readonly consumers = new Map<string, Consumer>();
  private running: Promise<void> = Promise.resolve();
  private pending: Promise<void> | undefined;
  private firstPass = true;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private stopped = false;

  constructor(
    private readonly ctx: HooksContext,
    private readonly bus: EventBus,
  ) {}

  async start(intervalMs = RECONCILE_INTERVAL_MS): Promise<void> {
    this.unlisten = await this.ctx.database.listen(HOOKS_CHANGED_CHANNEL, () => void this.reconcile());
    this.timer = setInterval(() => void this.reconcile(), intervalMs);
    this.timer.unref();
    await this.reconcile();
  }

  /**
   * Runs a reconciliation after any running one (calls while one waits share it). Never rejects:
   * failures are logged and the next pass tries again.
   */
  reconcile(): Promise<void> {
    if (this.pending) return this.pending;
    const next = this.running.then(async () => {
      this.pending = undefined;
      if (this.stopped) return;
      try {
        await this.pass();
      } catch (err) {
        this.ctx.logger.error({ err }, 'hooks bindings reconciliation failed; retrying on the next pass');
      }
    });
    this.pending = next;
    this.running = next;
    return next;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.unlisten?.();
    await this.running;
    await Promise.all([...this.consumers.values()].map((c) => c.close()));
    this.consumers.clear();
  }

  private async pass(): Promise<void> {
    const rebindAll = this.firstPass;
    const wanted = await this.ctx.database.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [RECONCILE_LOCK_KEY]);
      const hooks = await db.hooksWithBindings(tx);
      const queues = new Map((await db.hookQueues(tx)).map((q) => [`${q.hookGroupId}/${q.hookId}`, q]));
      for (const hook of hooks) {
        const id = `${hook.hookGroupId}/${hook.hookId}`;
        const queueName = hookQueueName(hook.hookGroupId, hook.hookId);
        const prev = queues.get(id);
        queues.delete(id);
        try {
          const bound = prev?.bindings ?? [];
          const removed = minus(bound, hook.bindings);
          // After a restart bind everything again: idempotent, and it heals a queue deleted behind our back.
          const added = rebindAll ? hook.bindings : minus(hook.bindings, bound);
          if (removed.length > 0) await this.bus.unbindQueue(queueName, toBus(removed));
          if (added.length > 0 || !prev) await this.bus.bindQueue(queueName, toBus(added));
          if (!prev || !isDeepStrictEqual(prev.bindings, hook.bindings)) {
            await db.upsertHookQueue(tx, { ...hook, queueName });
          }
        } catch (err) {
          this.ctx.logger.error(
            { err, hookGroupId: hook.hookGroupId, hookId: hook.hookId },
            'could not update the bindings of the queue of a hook; retrying on the next pass',
          );
        }
      }
      for (const q of queues.values()) {
        // The hook is gone or has no bindings any more.
        try {
          await this.bus.deleteQueue(q.queueName);
          await db.deleteHookQueue(tx, q.hookGroupId, q.hookId);
        } catch (err) {
          this.ctx.logger.error(
            { err, hookGroupId: q.hookGroupId, hookId: q.hookId },
            'could not delete the queue of a hook; retrying on the next pass',
          );
        }
      }
      return hooks;
    });
    this.firstPass = false;
    const names = new Map(wanted.map((h) => [hookQueueName(h.hookGroupId, h.hookId), h]));
    for (const [queueName, hook] of names) {
      if (this.consumers.has(queueName) || this.stopped) continue;
      const { hookGroupId, hookId } = hook;
      const consumer = await this.bus.consume({
        queueName,
        bindings: [],
        handler: (msg) => handlePulseMessage(this.ctx, hookGroupId, hookId, msg),
      });
      this.consumers.set(queueName, consumer);
    }
    for (const [queueName, consumer] of this.consumers) {
      if (names.has(queueName)) continue;
      this.consumers.delete(queueName);
      await consumer.close();
      // Our consumer may have re-created the queue after another process deleted it.
      await this.bus.deleteQueue(queueName);
    }
  }
}

/**
 * Fires the hook for one message, at most once per message id (messages without one, from other
 * publishers, are identified by a hash of exchange, routing key and body). A payload failing the
 * hook's triggerSchema is dropped, as upstream does.
 */
export async function handlePulseMessage(
  ctx: HooksContext,
  hookGroupId: string,
  hookId: string,
  msg: DeliveredMessage,
): Promise<void> {
  const log = ctx.logger.child({ hookGroupId, hookId, exchange: msg.exchange, routingKey: msg.routingKey });
  const hook = await db.getHook(ctx.database, hookGroupId, hookId);
  if (!hook) return;
  // A message routed by a binding removed since (or before our unbind reached the broker).
  const cc = msg.routes.map((r) => `route.${r}`);
  const matches = toBus(hook.bindings).some((b) =>
    bindingMatches(b, { exchange: msg.exchange, routingKey: msg.routingKey, cc }),
  );
  if (!matches) return;
  const problem = triggerPayloadProblem(hook.triggerSchema, msg.payload);
  if (problem) {
    log.info(`pulse message dropped: its payload does not match the hook's triggerSchema: ${problem}`);
    return;
  }
  const messageId =
    msg.messageId ??
    `sha256:${createHash('sha256')
      .update(JSON.stringify([msg.exchange, msg.routingKey, msg.payload]))
      .digest('hex')}`;
  const now = ctx.now();
  // Committed before the fire: after a crash mid-fire, the redelivery finds the same taskId and time.
  await db.insertPulseFire(
    ctx.database,
    hookGroupId,
    hookId,
    messageId,
    slugid.nice(),
    now,
    new Date(now.getTime() + PULSE_FIRE_MEMORY_MS),
  );
  // No transaction is held while firing: createTask is an HTTP call, and in one process the queue
  // answering it needs a connection from the same pool.
  const { claim, done } = await db.leasePulseFire(
    ctx.database,
    hookGroupId,
    hookId,
    messageId,
    now,
    PULSE_FIRE_LEASE_MS,
  );
  if (done) return;
  // Another delivery of the same message is being fired right now: see it again once that is done.
  if (!claim) throw new Error(`message ${messageId} is being handled by another delivery`);
  // Same taskId and time render the same task, which the queue creates once. Failures are
  // recorded in last fires (and emailed), not retried, as upstream.
  await fireHook(ctx, hook, 'pulseMessage', msg.payload, { taskId: claim.taskId, now: claim.firedAt });
  await db.completePulseFire(ctx.database, hookGroupId, hookId, messageId);
}
