import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ApiError } from '../errors.ts';
import { type ScopeExpression, satisfiesExpression } from '../scopes/index.ts';
import { payloadHash } from './http-extras.ts';
import { requestOrigin } from './origin.ts';
import { requireScopes, tryRender } from './scope-check.ts';
import { standardEndpoints } from './standard-endpoints.ts';
import type { Authenticator, EndpointContext, EndpointDeclaration, ServiceApi } from './types.ts';
import { coerceQuery, validationProblems } from './validate.ts';

export interface MountOptions {
  authenticator: Authenticator;
  rootUrl: () => string;
  logger: Logger;
  trustProxy: boolean;
  /** Check responses against output schemas (on in tests: a mismatch is our bug). */
  validateOutput?: boolean;
  startedAt?: number;
  healthCheck?: () => Promise<void>;
  onRequestDone?: (service: string, name: string, status: number, seconds: number) => void;
}

/** `/clients/<clientId>` → `/clients/:clientId`; a last parameter allowed to hold `/` → `*`. */
export function fastifyPath(route: string, wildcardParam?: string): string {
  return route.replace(/<([a-zA-Z0-9_]+)>/g, (_m, name: string) =>
    name === wildcardParam ? '*' : `:${name}`,
  );
}

declare module 'fastify' {
  interface FastifyRequest {
    taskyardEndpoint?: { service: string; name: string; params: Record<string, string>; body: unknown };
    taskyardClientId?: string;
  }
}

/** Registers every endpoint of a service, plus the standard ones, under /api/<service>/v1. */
export function mountService(app: FastifyInstance, api: ServiceApi, opts: MountOptions): void {
  const prefix = `/api/${api.serviceName}/v1`;
  const endpoints = [...standardEndpoints(opts.startedAt ?? Date.now(), opts.healthCheck), ...api.endpoints];
  for (const decl of endpoints) {
    const wildcard = wildcardParamOf(decl);
    app.route({
      method: decl.method.toUpperCase() as 'GET',
      url: prefix + fastifyPath(decl.route, wildcard),
      handler: (request, reply) => handle(api.serviceName, decl, wildcard, request, reply, opts),
    });
  }
}

function wildcardParamOf(decl: EndpointDeclaration): string | undefined {
  const last = /<([a-zA-Z0-9_]+)>$/.exec(decl.route);
  if (last && decl.params?.[last[1]]?.source.includes('/')) return last[1];
  return undefined;
}

async function handle(
  service: string,
  decl: EndpointDeclaration,
  wildcard: string | undefined,
  request: FastifyRequest,
  reply: FastifyReply,
  opts: MountOptions,
): Promise<unknown> {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.params as Record<string, string>)) {
    params[key === '*' && wildcard ? wildcard : key] = value;
  }
  const echoed = decl.cleanPayload ? (decl.cleanPayload(request.body) ?? {}) : request.body;
  request.taskyardEndpoint = { service, name: decl.name, params, body: echoed };
  for (const [name, pattern] of Object.entries(decl.params ?? {})) {
    const value = params[name];
    if (value !== undefined && !pattern.test(value)) {
      throw new ApiError(
        'InputError',
        `${name} ${JSON.stringify(value)} is not valid: it must match ${pattern}`,
      );
    }
  }

  let query: Record<string, unknown> = {};
  if (decl.query) {
    const coerced = coerceQuery(decl.query, request.query as Record<string, unknown>);
    const problems = validationProblems(decl.query, coerced, 'query');
    if (problems.length) throw new ApiError('InputValidationError', problems.join('\n'), { problems });
    query = coerced as Record<string, unknown>;
  }

  const body = request.body;
  if (decl.input) {
    if (body === undefined || body === null) {
      throw new ApiError(
        'InputValidationError',
        'this endpoint needs a JSON request body, and none was sent',
      );
    }
    const problems = validationProblems(decl.input, body, 'body');
    if (problems.length) throw new ApiError('InputValidationError', problems.join('\n'), { problems });
  } else if (
    body !== undefined &&
    body !== null &&
    !(typeof body === 'object' && Object.keys(body).length === 0)
  ) {
    throw new ApiError('InputValidationError', 'this endpoint takes no request body');
  }

  const auth = decl.skipAuthentication
    ? { status: 'no-auth' as const, scheme: 'none' as const, scopes: [] as string[], expires: new Date() }
    : await opts.authenticator.authenticate({
        method: request.method.toLowerCase(),
        resource: request.url,
        ...requestOrigin(request, opts.trustProxy),
        authorization: request.headers.authorization,
        sourceIp: request.ip,
      });
  if (auth.status === 'auth-failed') {
    reply.header('www-authenticate', 'hawk');
    throw new ApiError('AuthenticationFailed', auth.message);
  }
  const clientId = auth.status === 'auth-success' ? auth.clientId : undefined;
  // The official clients send no payload hash; when a client does, the body must match it.
  if (auth.status === 'auth-success' && auth.hash && auth.hash !== payloadHash(request)) {
    reply.header('www-authenticate', 'hawk');
    throw new ApiError(
      'AuthenticationFailed',
      'Invalid payload hash: the body does not match the hash that was signed',
    );
  }
  request.taskyardClientId = clientId;
  const scopes = auth.scopes;

  let authorized = decl.scopes === null;
  if (decl.scopes !== null) {
    const rendered = tryRender(decl.scopes, params);
    if (rendered !== undefined) {
      requireScopes(scopes, rendered, clientId);
      authorized = true;
    }
  }

  const ctx: EndpointContext = {
    params,
    query,
    body,
    clientId,
    scopes,
    satisfies: (expr: ScopeExpression) => satisfiesExpression(scopes, expr),
    authorize: (extra) => {
      if (decl.scopes === null) return;
      const rendered = tryRender(decl.scopes, { ...extra, ...params });
      if (rendered === undefined) {
        throw new Error(
          `scope template of ${service}.${decl.name} names a parameter not given to authorize()`,
        );
      }
      requireScopes(scopes, rendered, clientId);
      authorized = true;
    },
    rootUrl: opts.rootUrl(),
    log: opts.logger,
    request,
    reply,
  };
  const result = await decl.handler(ctx);
  if (!authorized) {
    throw new Error(`${service}.${decl.name} returned without checking its scopes`);
  }
  if (reply.sent) return reply;
  if (result === undefined && !decl.output) {
    reply.status(204).send();
    return reply;
  }
  if (opts.validateOutput && decl.output && result !== undefined) {
    const problems = validationProblems(decl.output, result, 'response');
    if (problems.length) {
      throw new Error(`${service}.${decl.name} answered outside its output schema: ${problems.join('; ')}`);
    }
  }
  reply.header('cache-control', 'no-store');
  return result === undefined ? {} : result;
}
