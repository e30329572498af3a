import type { Service, ServiceOptions } from '../service.ts';
import { hooksEndpoints } from './api.ts';
import { hooksExchanges } from './events.ts';
import { expireHooksData, type HooksExpiryCounts, startExpiryLoop } from './expiry.ts';
import type { HooksContext } from './fire.ts';
import { HookListeners } from './listeners.ts';
import { runSchedulerPass, startScheduler } from './scheduler.ts';

export { hooksExchanges } from './events.ts';
export { HOOKS_CLIENT_ID, LAST_FIRE_TTL_MS } from './fire.ts';
export { HOOKS_CHANGED_CHANNEL, hookQueueName, RECONCILE_INTERVAL_MS } from './listeners.ts';
export { runSchedulerPass } from './scheduler.ts';

/**
 * The hooks service: task templates (JSON-e) fired by cron schedule, by API call, or by pulse
 * message, creating tasks through the queue with the scopes of `assume:hook-id:<hookGroupId>/<hookId>`.
 */
export interface HooksService extends Service {
  /** One pass of the scheduler (tests run it themselves with background loops off). */
  runSchedulerPass(): Promise<number>;
  /** One expiry pass (last fires, handled message ids). */
  expire(): Promise<HooksExpiryCounts>;
  /** A reconciliation of pulse bindings and consumers, when background loops run (else a no-op). */
  reconcileBindings(): Promise<void>;
}

export function createHooksService(opts: ServiceOptions): HooksService {
  const ctx: HooksContext = {
    database: opts.database,
    logger: opts.logger,
    now: opts.now,
    config: opts.config,
    rootUrl: opts.rootUrl,
  };
  let stopScheduler: (() => Promise<void>) | undefined;
  let stopExpiry: (() => Promise<void>) | undefined;
  let listeners: HookListeners | undefined;
  return {
    runSchedulerPass: () => runSchedulerPass(ctx),
    expire: () => expireHooksData(ctx),
    reconcileBindings: async () => listeners?.reconcile(),
    api: {
      serviceName: 'hooks',
      title: 'Hooks Service',
      description:
        'Hooks are task templates (JSON-e) that create tasks when fired: on a cron schedule (UTC), ' +
        'by triggerHook, by triggerHookWithToken, or by a pulse message matching their bindings. ' +
        'Tasks are created with the scopes of the role `hook-id:<hookGroupId>/<hookId>`.',
      endpoints: hooksEndpoints(ctx),
    },
    exchanges: hooksExchanges,
    async start() {
      if (!opts.backgroundLoops) return;
      listeners = new HookListeners(ctx, opts.bus);
      await listeners.start();
      stopScheduler = startScheduler(ctx);
      stopExpiry = startExpiryLoop(ctx);
    },
    async stop() {
      await stopScheduler?.();
      stopScheduler = undefined;
      await stopExpiry?.();
      stopExpiry = undefined;
      await listeners?.stop();
      listeners = undefined;
    },
  };
}
