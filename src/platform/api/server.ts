import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ApiError, errorStatus, isApiError } from '../errors.ts';
import { type Metrics, newMetrics } from '../metrics.ts';
import { installHttpExtras } from './http-extras.ts';
import { type MountOptions, mountService } from './mount.ts';
import { apiReference, openApi, serviceSchemas } from './reference.ts';
import { standardEndpoints } from './standard-endpoints.ts';
import type { Authenticator, ServiceApi } from './types.ts';

export interface PublishedService {
  api: ServiceApi;
  /** The exchanges-reference-v0 document, when the service publishes events. */
  exchangesReference?: () => unknown;
  exchangeSchemas?: Map<string, unknown>;
}

export interface ApiServerOptions {
  services: PublishedService[];
  authenticator: Authenticator;
  logger: Logger;
  rootUrl: () => string;
  trustProxy: boolean;
  maxRequestBytes: number;
  validateOutput?: boolean;
  metrics?: Metrics;
  healthCheck?: () => Promise<void>;
}

function requestInfo(request: FastifyRequest) {
  const ep = request.taskyardEndpoint;
  return {
    method: ep?.name ?? 'unknown',
    params: ep?.params ?? {},
    payload: ep?.body ?? request.body ?? {},
    time: new Date().toISOString(),
  };
}

/** Maps anything thrown while serving to an error from the catalog. */
function toApiError(err: FastifyError | Error): ApiError {
  if (isApiError(err)) return err;
  const code = (err as FastifyError).code;
  const status = (err as FastifyError).statusCode;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new ApiError('InputTooLarge', `request body is too large: ${err.message}`);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new ApiError('UnsupportedMediaType', 'request body must be JSON (content-type: application/json)');
  }
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new ApiError('InputError', 'content-type says JSON but the request body is empty');
  }
  if (err instanceof SyntaxError || code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ApiError('InputError', `request body is not valid JSON: ${err.message}`);
  }
  if (status && status >= 400 && status < 500) return new ApiError('InputError', err.message);
  return new ApiError(
    'InternalServerError',
    'Internal server error; the details are in the server log.',
    {},
    { cause: err },
  );
}

/** One Fastify application serving the given services, their references, schemas and metrics. */
export function buildApiServer(opts: ApiServerOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: opts.maxRequestBytes,
    trustProxy: opts.trustProxy,
    routerOptions: { maxParamLength: 2048 },
    return503OnClosing: true,
  });
  const metrics = opts.metrics ?? newMetrics();
  installHttpExtras(app);
  const startedAt = Date.now();

  app.setErrorHandler((err, request, reply) => {
    const apiErr = toApiError(err as Error);
    if (apiErr.code === 'InternalServerError') {
      opts.logger.error({ err: apiErr.cause ?? err, url: request.url }, 'request failed');
    }
    reply
      .status(errorStatus[apiErr.code])
      .header('content-type', 'application/json; charset=utf-8')
      .send({ code: apiErr.code, message: apiErr.message, requestInfo: requestInfo(request) });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({
      code: 'ResourceNotFound',
      message: `No such endpoint: ${request.method} ${request.url.split('?')[0]}`,
      requestInfo: requestInfo(request),
    });
  });

  const requestLogging = opts.logger.isLevelEnabled('info');
  app.addHook('onResponse', async (request, reply) => {
    const ep = request.taskyardEndpoint;
    const seconds = reply.elapsedTime / 1000;
    metrics.observeRequest(ep?.service ?? 'none', ep?.name ?? 'none', reply.statusCode, seconds);
    if (!requestLogging) return;
    opts.logger.info(
      {
        service: ep?.service,
        endpoint: ep?.name,
        method: request.method,
        url: request.url.split('?')[0],
        status: reply.statusCode,
        clientId: request.taskyardClientId,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
  });

  const mountOpts: MountOptions = {
    authenticator: opts.authenticator,
    rootUrl: opts.rootUrl,
    logger: opts.logger,
    trustProxy: opts.trustProxy,
    validateOutput: opts.validateOutput,
    startedAt,
    healthCheck: opts.healthCheck,
  };
  const references: string[] = [];
  for (const svc of opts.services) {
    const name = svc.api.serviceName;
    mountService(app, svc.api, mountOpts);
    const all = [...standardEndpoints(startedAt, opts.healthCheck), ...svc.api.endpoints];
    const ref = apiReference(svc.api, all);
    references.push(`/references/${name}/v1/api.json`);
    app.get(`/references/${name}/v1/api.json`, async () => ref);
    app.get(`/references/${name}/v1/openapi.json`, async () => openApi(svc.api, all, opts.rootUrl()));
    const schemas = new Map<string, unknown>(serviceSchemas(svc.api));
    for (const [k, v] of svc.exchangeSchemas ?? []) schemas.set(k, v);
    if (svc.exchangesReference) {
      const exchanges = svc.exchangesReference;
      references.push(`/references/${name}/v1/exchanges.json`);
      app.get(`/references/${name}/v1/exchanges.json`, async () => exchanges());
    }
    app.get<{ Params: { file: string } }>(`/schemas/${name}/v1/:file`, async (request) => {
      const schema = schemas.get(request.params.file.replace(/\.json$/, ''));
      if (!schema) throw new ApiError('ResourceNotFound', `no schema ${request.params.file} in ${name}`);
      return schema;
    });
  }
  app.get('/references/manifest.json', async () => ({
    $schema: '/schemas/common/manifest-v3.json#',
    references: references,
  }));
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return app;
}

export type { Authenticator };
export { ApiError };
