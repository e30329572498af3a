import type { Service, ServiceOptions } from '../service.ts';
import { hooksEndpoints } from './api.ts';
import type { HooksContext } from './fire.ts';
import { runSchedulerPass, startScheduler } from './scheduler.ts';

export { HOOKS_CLIENT_ID } from './fire.ts';
export { runSchedulerPass } from './scheduler.ts';

/**
 * The hooks service: task templates (JSON-e) fired by cron schedule or by API call, creating
 * tasks through the queue with the scopes of `assume:hook-id:<hookGroupId>/<hookId>`.
 */
export interface HooksService extends Service {
  /** One pass of the scheduler (tests run it themselves with background loops off). */
  runSchedulerPass(): Promise<number>;
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
  return {
    runSchedulerPass: () => runSchedulerPass(ctx),
    api: {
      serviceName: 'hooks',
      title: 'Hooks Service',
      description:
        'Hooks are task templates (JSON-e) that create tasks when fired: on a cron schedule (UTC), ' +
        'by triggerHook, or by triggerHookWithToken. Tasks are created with the scopes of the role ' +
        '`hook-id:<hookGroupId>/<hookId>`.',
      endpoints: hooksEndpoints(ctx),
    },
    async start() {
      if (!opts.backgroundLoops) return;
      stopScheduler = startScheduler(ctx);
    },
    async stop() {
      await stopScheduler?.();
      stopScheduler = undefined;
    },
  };
}
