import apis from 'taskcluster-client/src/apis.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
});
afterAll(async () => ty?.stop());

const get = async (path: string) => {
  const res = await fetch(`${ty.rootUrl}${path}`);
  // biome-ignore lint/suspicious/noExplicitAny: response documents are checked field by field
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
};

interface Entry {
  name: string;
  method: string;
  route: string;
  args: string[];
  query: string[];
  scopes?: unknown;
  stability: string;
}

describe('every endpoint and exchange of the official client', () => {
  it.each([
    ['Auth', 'auth'],
    ['Queue', 'queue'],
    ['Index', 'index'],
    ['Secrets', 'secrets'],
    ['PurgeCache', 'purge-cache'],
    ['Hooks', 'hooks'],
    ['Notify', 'notify'],
  ])('%s: same names, methods, routes, arguments, query parameters and scopes', async (client, service) => {
    const { body: ref } = await get(`/references/${service}/v1/api.json`);
    const ours = new Map<string, Entry>(ref.entries.map((e: Entry) => [e.name, e]));
    const theirs = apis[client].reference.entries.filter(
      (e: { type: string }) => e.type === 'function',
    ) as Entry[];
    for (const e of theirs) {
      const mine = ours.get(e.name);
      expect(mine, `${client}.${e.name} is missing`).toBeDefined();
      expect(
        {
          method: mine!.method,
          route: mine!.route,
          args: mine!.args,
          query: [...mine!.query].sort(),
          scopes: mine!.scopes,
        },
        `${client}.${e.name}`,
      ).toEqual({
        method: e.method,
        route: e.route,
        args: e.args,
        query: [...e.query].sort(),
        scopes: e.scopes,
      });
    }
  });

  /** What clients rely on in an exchange entry: its name, and the words of its routing key. */
  const exchangeShape = (e: {
    exchange: string;
    name: string;
    routingKey: Array<{ name: string; required: boolean; multipleWords: boolean }>;
  }) => [
    e.exchange,
    e.name,
    e.routingKey.map((k) => [k.name, Boolean(k.required), Boolean(k.multipleWords)]),
  ];

  it('QueueEvents: same exchanges and routing keys', async () => {
    const { body: ref } = await get('/references/queue/v1/exchanges.json');
    const upstream = apis.QueueEvents.reference;
    expect(ref.exchangePrefix).toBe(upstream.exchangePrefix);
    const ours = new Map(ref.entries.map((e: { exchange: string }) => [e.exchange, e]));
    for (const e of upstream.entries) {
      expect(ours.has(e.exchange), e.exchange).toBe(true);
      expect(exchangeShape(ours.get(e.exchange) as never), e.exchange).toEqual(exchangeShape(e));
    }
  });

  it.each([
    ['HooksEvents', 'hooks'],
    ['NotifyEvents', 'notify'],
  ])('%s: the same exchanges and routing keys', async (client, service) => {
    const { body: ref } = await get(`/references/${service}/v1/exchanges.json`);
    const upstream = apis[client].reference;
    expect(ref.exchangePrefix).toBe(upstream.exchangePrefix);
    expect(ref.entries.map(exchangeShape)).toEqual(upstream.entries.map(exchangeShape));
  });

  it('HooksEvents: the message schema of hook changes', async () => {
    const schema = await get('/schemas/hooks/v1/pulse-hook-changed-message.json');
    expect(schema.body.required).toEqual(['hookGroupId', 'hookId']);
  });
});

describe('references and standard endpoints', () => {
  it('serves an api-reference-v0 document with every endpoint the official client knows', async () => {
    const { body: ref } = await get('/references/auth/v1/api.json');
    expect(ref).toMatchObject({
      apiVersion: 'v1',
      serviceName: 'auth',
      $schema: '/schemas/common/api-reference-v0.json#',
    });
    const ours = new Map(ref.entries.map((e: { name: string }) => [e.name, e]));
    const names = apis.Auth.reference.entries.filter((e: { type: string }) => e.type === 'function');
    expect(names.length).toBeGreaterThan(30);
    for (const e of names as Array<{
      name: string;
      method: string;
      route: string;
      args: string[];
      query: string[];
    }>) {
      const mine = ours.get(e.name) as typeof e | undefined;
      expect(mine, e.name).toBeDefined();
      expect([mine!.method, mine!.route, mine!.args, [...mine!.query].sort()], e.name).toEqual([
        e.method,
        e.route,
        e.args,
        [...e.query].sort(),
      ]);
    }
    const create = ours.get('createClient') as { scopes: unknown; input: string; output: string };
    expect(create.scopes).toEqual({
      AllOf: ['auth:create-client:<clientId>', { for: 'scope', in: 'scopes', each: '<scope>' }],
    });
    expect(create.input).toBe('v1/create-client-request.json#');
    const schema = await get('/schemas/auth/v1/create-client-request.json');
    expect(schema.body.required).toEqual(expect.arrayContaining(['expires', 'description']));
  });

  it('declares the same exchanges as the official client', async () => {
    const { body: ref } = await get('/references/auth/v1/exchanges.json');
    const upstream = apis.AuthEvents.reference;
    expect(ref.exchangePrefix).toBe(upstream.exchangePrefix);
    const pick = (e: { exchange: string; name: string; routingKey: Array<{ name: string }> }) => [
      e.exchange,
      e.name,
      e.routingKey.map((k) => k.name),
    ];
    expect(ref.entries.map(pick)).toEqual(upstream.entries.map(pick));
  });

  it('lists its references in the manifest and serves OpenAPI', async () => {
    const { body: manifest } = await get('/references/manifest.json');
    expect(manifest.references).toEqual(
      expect.arrayContaining(['/references/auth/v1/api.json', '/references/auth/v1/exchanges.json']),
    );
    const { body: openapi } = await get('/references/auth/v1/openapi.json');
    expect(openapi.openapi).toBe('3.1.0');
    expect(openapi.paths['/clients/{clientId}'].put.operationId).toBe('createClient');
  });

  it('answers ping, heartbeats and version without credentials', async () => {
    expect((await get('/api/auth/v1/ping')).body).toMatchObject({ alive: true });
    expect((await get('/api/auth/v1/__heartbeat__')).status).toBe(200);
    expect((await get('/api/auth/v1/__lbheartbeat__')).status).toBe(200);
    expect((await get('/api/auth/v1/__version__')).body).toMatchObject({ version: expect.any(String) });
  });

  it('exposes Prometheus metrics with request counts', async () => {
    await get('/api/auth/v1/ping');
    const text = await (await fetch(`${ty.rootUrl}/metrics`)).text();
    expect(text).toMatch(
      /taskyard_api_request_duration_seconds_count\{service="auth",endpoint="ping",status="200"\} \d+/,
    );
  });
});
