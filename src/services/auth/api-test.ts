import { requestOrigin } from '../../platform/api/origin.ts';
import { requireScopes } from '../../platform/api/scope-check.ts';
import { type EndpointContext, type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { ApiError } from '../../platform/errors.ts';
import type { AuthContext } from './context.ts';
import { HawkAuthenticator } from './hawk-authenticator.ts';
import { NonceCache } from './nonce-cache.ts';
import { TestAuthenticateRequest, TestAuthenticateResponse } from './schemas.ts';

/**
 * The fixed test client that client libraries use to check their signing against a deployment:
 * clientId `tester`, access token `no-secret`, with whatever scopes the test asks for. It exists
 * only for these two endpoints and grants nothing anywhere else.
 */
const TESTER = { clientId: 'tester', accessToken: 'no-secret' };

export function testEndpoints(ac: AuthContext): EndpointDeclaration[] {
  const nonces = new NonceCache(15 * 60);

  async function authenticateAsTester(
    ctx: EndpointContext,
    clientScopes: string[],
    requiredScopes: string[],
  ) {
    const authenticator = new HawkAuthenticator({
      clients: {
        get: async (clientId) =>
          clientId === TESTER.clientId
            ? {
                ...TESTER,
                expandedScopes: clientScopes,
                expires: new Date(Date.now() + 3600_000),
                disabled: false,
              }
            : undefined,
      },
      expand: (scopes) => scopes,
      now: () => ac.now().getTime(),
      nonces,
    });
    const result = await authenticator.authenticate({
      method: ctx.request.method.toLowerCase(),
      resource: ctx.request.url,
      ...requestOrigin(ctx.request, ac.trustProxy),
      authorization: ctx.request.headers.authorization,
    });
    if (result.status === 'auth-failed') throw new ApiError('AuthenticationFailed', result.message);
    const clientId = result.status === 'auth-success' ? result.clientId : undefined;
    requireScopes(result.scopes, { AllOf: requiredScopes }, clientId);
    return { clientId: clientId ?? 'anonymous', scopes: result.scopes };
  }

  return [
    endpoint({
      name: 'testAuthenticate',
      method: 'post',
      route: '/test-authenticate',
      scopes: null,
      skipAuthentication: true,
      input: TestAuthenticateRequest,
      output: TestAuthenticateResponse,
      title: 'Test Authentication',
      description:
        'For testing client libraries: sign the request as clientId `tester` with access token `no-secret` ' +
        '(or temporary credentials it issued). The tester holds `clientScopes`; the request needs `requiredScopes`. ' +
        'Answers the clientId and scopes, 401 on a bad signature and 403 when scopes are missing.',
      stability: 'stable',
      category: 'Scopes and Auth',
      handler: async (ctx) =>
        authenticateAsTester(ctx, ctx.body.clientScopes ?? [], ctx.body.requiredScopes ?? []),
    }),
    endpoint({
      name: 'testAuthenticateGet',
      method: 'get',
      route: '/test-authenticate-get/',
      scopes: null,
      skipAuthentication: true,
      output: TestAuthenticateResponse,
      title: 'Test Authentication (GET)',
      description:
        'As testAuthenticate, for GET requests and signed URLs: the tester holds `test:*` and ' +
        '`auth:create-client:test:*`, and the request needs `test:authenticate-get`.',
      stability: 'stable',
      category: 'Scopes and Auth',
      handler: async (ctx) =>
        authenticateAsTester(ctx, ['test:*', 'auth:create-client:test:*'], ['test:authenticate-get']),
    }),
  ];
}
