import type { EndpointDeclaration } from '../../platform/api/types.ts';
import type { QueueContext } from './context.ts';

/** Artifact endpoints (being written). */
export function artifactEndpoints(_ctx: QueueContext): EndpointDeclaration[] {
  return [];
}
