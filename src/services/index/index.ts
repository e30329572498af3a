import type { Consumer } from '../../platform/events/index.ts';
import type { Service, ServiceOptions } from '../service.ts';
import { indexEndpoints } from './api.ts';
import { ArtifactUrls } from './artifact-url.ts';
import type { IndexContext } from './context.ts';
import { startExpiryLoop } from './expiry.ts';
import { handleTaskEvent, INDEX_BINDINGS, INDEX_QUEUE_NAME } from './task-events.ts';

export { expireIndex } from './expiry.ts';
export { handleTaskEvent, INDEX_BINDINGS, INDEX_QUEUE_NAME } from './task-events.ts';

/**
 * The index service: tasks found by index path. Its API reads and writes the index; with
 * background loops on, it consumes the queue's task-completed (and, for tasks that opt in,
 * task-failed and task-exception) events of tasks with `index.<path>` routes, and expires old
 * entries.
 */
export function createIndexService(opts: ServiceOptions): Service {
  const ctx: IndexContext = {
    database: opts.database,
    logger: opts.logger,
    now: opts.now,
    config: opts.config,
  };
  const artifactUrls = new ArtifactUrls({ config: opts.config, logger: opts.logger, now: opts.now });
  let consumer: Consumer | undefined;
  let stopExpiry: (() => Promise<void>) | undefined;
  return {
    api: {
      serviceName: 'index',
      title: 'Index Service',
      description:
        'Finds tasks by name. Tasks are indexed at dot-separated index paths (`project.branch.latest`), ' +
        'usually by giving them routes `index.<path>`: when such a task completes it is indexed at ' +
        '`<path>` with the `rank`, `data` and `expires` of `task.extra.index`, replacing the entry there ' +
        'unless that has a higher rank. Reading the index is the common use of this API. Segments hold ' +
        "letters, digits and _!~*'()%- (no slashes); a path is at most 255 characters.",
      endpoints: indexEndpoints(ctx, artifactUrls),
    },
    async start() {
      if (!opts.backgroundLoops) return;
      consumer = await opts.bus.consume({
        queueName: INDEX_QUEUE_NAME,
        bindings: INDEX_BINDINGS,
        handler: (msg) => handleTaskEvent(ctx, msg),
      });
      stopExpiry = startExpiryLoop(ctx);
    },
    async stop() {
      await consumer?.close();
      consumer = undefined;
      await stopExpiry?.();
      stopExpiry = undefined;
    },
  };
}
