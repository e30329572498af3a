import type { AuthenticationResult } from '../../platform/api/types.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import type { AuthContext } from './context.ts';
import { AuthenticateHawkRequest, AuthenticateHawkResponse, ScopeSet } from './schemas.ts';

/** authenticateHawk's answer: the result with dates as strings. */
export function authResultJson(result: AuthenticationResult) {
  if (result.status === 'auth-failed') return result;
  return { ...result, expires: result.expires.toJSON() };
}

const serializedScopeSets = new WeakMap<string[], string>();

export function scopeEndpoints(ac: AuthContext): EndpointDeclaration[] {
  return [
    endpoint({
      name: 'expandScopes',
      method: 'post',
      route: '/scopes/expand',
      scopes: 'auth:expand-scopes',
      input: ScopeSet,
      output: ScopeSet,
      title: 'Expand Scopes',
      description: 'The given scopes with every role they can assume expanded, normalized.',
      stability: 'stable',
      category: 'Scopes and Auth',
      handler: async ({ body }) => ({ scopes: ac.state.expand(body.scopes) }),
    }),
    endpoint({
      name: 'currentScopes',
      method: 'get',
      route: '/scopes/current',
      scopes: 'auth:current-scopes',
      output: ScopeSet,
      title: 'Get Current Scopes',
      description:
        'The expanded scopes of the credentials that signed this request (after authorizedScopes).',
      stability: 'stable',
      category: 'Scopes and Auth',
      handler: async ({ scopes, reply }) => {
        // A client's scope set is one cached array until the client or a role changes, and it can
        // hold thousands of scopes: serialize it once, not per request.
        let body = serializedScopeSets.get(scopes);
        if (body === undefined) {
          body = JSON.stringify({ scopes });
          serializedScopeSets.set(scopes, body);
        }
        reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store');
        reply.send(body);
        return undefined;
      },
    }),
    endpoint({
      name: 'authenticateHawk',
      method: 'post',
      route: '/authenticate-hawk',
      scopes: null,
      input: AuthenticateHawkRequest,
      output: AuthenticateHawkResponse,
      title: 'Validate Hawk Request',
      description:
        'For services in other processes: checks the Hawk signature (header or bewit) of a request they ' +
        'received and returns the clientId and expanded scopes, or why it failed. Always answers 200.',
      stability: 'stable',
      category: 'Scopes and Auth',
      handler: async ({ body }) => authResultJson(await ac.authenticator.authenticate(body)),
    }),
  ];
}
