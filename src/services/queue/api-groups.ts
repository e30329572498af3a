import type { EndpointDeclaration } from '../../platform/api/types.ts';
import type { QueueContext } from './context.ts';

/** Task group endpoints (being written). */
export function groupEndpoints(_ctx: QueueContext): EndpointDeclaration[] {
  return [];
}
