import type { QueueContext } from './context.ts';

/**
 * The queue's background loops other than dependency resolution (claim expiry, deadlines,
 * expiry), each safe to run in several processes. Returns a function that stops them.
 */
export async function startQueueLoops(_ctx: QueueContext): Promise<() => Promise<void>> {
  return async () => {};
}
