import type { TSchema } from '@sinclair/typebox';
import type { EndpointDeclaration, ServiceApi } from './types.ts';

/** The file name a schema is published under: its `$id`, or one derived from the endpoint. */
function schemaName(schema: TSchema, fallback: string): string {
  const id = typeof schema.$id === 'string' ? schema.$id : fallback;
  return id.replace(/\.json#?$/, '');
}

const routeArgs = (route: string): string[] => [...route.matchAll(/<([a-zA-Z0-9_]+)>/g)].map((m) => m[1]);
const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Every schema a service publishes, by file name. */
export function serviceSchemas(api: ServiceApi): Map<string, TSchema> {
  const out = new Map<string, TSchema>();
  for (const e of api.endpoints) {
    if (e.input) out.set(schemaName(e.input, `${kebab(e.name)}-request`), e.input);
    if (e.output) out.set(schemaName(e.output, `${kebab(e.name)}-response`), e.output);
  }
  return out;
}

/** Taskcluster's `api-reference-v0` document, which the official clients are generated from. */
export function apiReference(api: ServiceApi, allEndpoints: EndpointDeclaration[]) {
  return {
    $schema: '/schemas/common/api-reference-v0.json#',
    apiVersion: 'v1',
    serviceName: api.serviceName,
    title: api.title,
    description: api.description,
    entries: allEndpoints.map((e) => ({
      type: 'function',
      method: e.method,
      route: e.route,
      query: e.query ? Object.keys(e.query.properties) : [],
      args: routeArgs(e.route),
      name: e.name,
      stability: e.stability,
      category: e.category ?? api.title,
      ...(e.scopes !== null ? { scopes: e.scopes } : {}),
      ...(e.input ? { input: `v1/${schemaName(e.input, `${kebab(e.name)}-request`)}.json#` } : {}),
      ...(e.output ? { output: `v1/${schemaName(e.output, `${kebab(e.name)}-response`)}.json#` } : {}),
      title: e.title,
      description: e.description,
    })),
  };
}

/** An OpenAPI 3.1 document of the same table, for people and generic tooling. */
export function openApi(api: ServiceApi, allEndpoints: EndpointDeclaration[], rootUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const e of allEndpoints) {
    const path = e.route.replace(/<([a-zA-Z0-9_]+)>/g, '{$1}');
    const parameters = [
      ...routeArgs(e.route).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...Object.entries(e.query?.properties ?? {}).map(([name, schema]) => ({
        name,
        in: 'query',
        required: false,
        schema,
      })),
    ];
    paths[path] ??= {};
    paths[path][e.method] = {
      operationId: e.name,
      summary: e.title,
      description: e.description,
      tags: [e.category ?? api.title],
      ...(e.stability === 'deprecated' ? { deprecated: true } : {}),
      ...(e.scopes !== null ? { 'x-taskcluster-scopes': e.scopes } : {}),
      parameters,
      ...(e.input
        ? { requestBody: { required: true, content: { 'application/json': { schema: e.input } } } }
        : {}),
      responses: {
        200: {
          description: 'Success',
          ...(e.output ? { content: { 'application/json': { schema: e.output } } } : {}),
        },
        default: { description: 'An error: {code, message, requestInfo}' },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: api.title, description: api.description, version: 'v1' },
    servers: [{ url: `${rootUrl}/api/${api.serviceName}/v1` }],
    paths,
  };
}
