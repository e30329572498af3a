import type { EndpointDeclaration } from '../../platform/api/types.ts';
import type { QueueContext } from './context.ts';

/** claimWork, claimTask, reclaimTask, reportCompleted/Failed/Exception (being written). */
export function claimEndpoints(_ctx: QueueContext): EndpointDeclaration[] {
  return [];
}
