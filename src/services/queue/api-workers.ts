import type { EndpointDeclaration } from '../../platform/api/types.ts';
import type { QueueContext } from './context.ts';

/** Task queues, provisioners, worker types and workers (being written). */
export function workerEndpoints(_ctx: QueueContext): EndpointDeclaration[] {
  return [];
}
