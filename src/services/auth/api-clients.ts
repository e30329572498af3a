import { Type } from '@sinclair/typebox';
import { decodeContinuation, keysetPage, pageSize } from '../../platform/api/pagination.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { ApiError } from '../../platform/errors.ts';
import { clientJson } from './client-json.ts';
import { type AuthContext, recordChange, refuseDoubleStar } from './context.ts';
import * as db from './db.ts';
import {
  ClientId,
  CreateClientRequest,
  CreateClientResponse,
  clientIdPattern,
  GetClientResponse,
  ListClientsResponse,
} from './schemas.ts';
import { AuthState } from './state.ts';
import { newAccessToken } from './token-crypto.ts';

const params = { clientId: clientIdPattern };
/** A repeated createClient with the same definition within this window returns the same client. */
const IDEMPOTENCY_WINDOW_MS = 15 * 60 * 1000;

function refuseStatic(clientId: string): void {
  if (clientId.startsWith('static/')) {
    throw new ApiError(
      'InputError',
      `clientId "${clientId}" starts with "static/", which is reserved for clients from the deployment's configuration; change them there`,
    );
  }
}

function refuseBadScopes(scopes: string[] | undefined): void {
  const bad = refuseDoubleStar(scopes);
  if (bad)
    throw new ApiError('InputError', `scope ${JSON.stringify(bad)} ends with "**", which is not allowed`);
}

const sameSet = (a: string[], b: string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

export function clientEndpoints(ac: AuthContext): EndpointDeclaration[] {
  const notFound = () => new ApiError('ResourceNotFound', 'Client not found');
  const asJson = (row: db.ClientRow) => clientJson(row, ac.state.expand(row.scopes));
  const withToken = (row: db.ClientRow) => ({
    ...asJson(row),
    accessToken: ac.cipher.decrypt(row.encryptedAccessToken),
  });

  /** Runs a change to one existing client in a transaction, with its audit row and event. */
  async function changeClient(
    clientId: string,
    actor: string | undefined,
    action: string,
    change: (row: db.ClientRow) => Partial<Parameters<typeof db.updateClient>[2]>,
  ): Promise<db.ClientRow> {
    const row = await ac.database.transaction(async (tx) => {
      const existing = await db.getClient(tx, clientId, true);
      if (!existing) throw notFound();
      const now = ac.now();
      await db.updateClient(tx, clientId, change(existing), now);
      await recordChange(tx, 'client', clientId, actor ?? 'anonymous', action, 'client-updated', now);
      await AuthState.announce(tx, `client:${clientId}`);
      return (await db.getClient(tx, clientId))!;
    });
    ac.state.forgetClient(clientId);
    return row;
  }

  return [
    endpoint({
      name: 'listClients',
      method: 'get',
      route: '/clients/',
      query: Type.Object({
        prefix: Type.Optional(Type.String({ pattern: clientIdPattern.source })),
        continuationToken: Type.Optional(Type.String()),
        limit: Type.Optional(Type.Integer({ minimum: 0 })),
      }),
      scopes: 'auth:list-clients',
      output: ListClientsResponse,
      title: 'List Clients',
      description:
        'Clients ordered by clientId, optionally only those starting with `prefix`, a page at a time.',
      stability: 'stable',
      category: 'Clients',
      handler: async ({ query }) => {
        const after = decodeContinuation(
          query.continuationToken,
          (v): v is { after: string } => typeof v.after === 'string',
        );
        const limit = pageSize(query.limit);
        const rows = await db.listClients(ac.database, {
          prefix: query.prefix,
          after: after?.after,
          limit: limit + 1,
        });
        const { page, continuation } = keysetPage(rows, limit, (last) => ({ after: last.clientId }));
        return { clients: page.map(asJson), ...continuation };
      },
    }),
    endpoint({
      name: 'client',
      method: 'get',
      route: '/clients/<clientId>',
      params,
      scopes: 'auth:get-client:<clientId>',
      output: GetClientResponse,
      title: 'Get Client',
      description: 'A client: its description, dates, scopes and expanded scopes (never its access token).',
      stability: 'stable',
      category: 'Clients',
      handler: async ({ params }) => {
        const row = await db.getClient(ac.database, params.clientId);
        if (!row) throw notFound();
        return asJson(row);
      },
    }),
    endpoint({
      name: 'createClient',
      method: 'put',
      route: '/clients/<clientId>',
      params,
      scopes: { AllOf: ['auth:create-client:<clientId>', { for: 'scope', in: 'scopes', each: '<scope>' }] },
      input: CreateClientRequest,
      output: CreateClientResponse,
      title: 'Create Client',
      description:
        'Creates a client and returns its access token, the only time it is shown apart from a reset. ' +
        'The caller must hold every scope the client is given. Repeating the same request within 15 minutes ' +
        'returns the same client; a different definition for an existing clientId is a 409.',
      stability: 'stable',
      category: 'Clients',
      handler: async ({ params, body, authorize, clientId: actor }) => {
        const { clientId } = params;
        refuseStatic(clientId);
        refuseBadScopes(body.scopes);
        const scopes = body.scopes ?? [];
        authorize({ scopes });
        const now = ac.now();
        const expires = new Date(body.expires);
        const row = await ac.database.transaction(async (tx) => {
          const fresh: db.ClientRow = {
            clientId,
            description: body.description,
            encryptedAccessToken: ac.cipher.encrypt(newAccessToken()),
            scopes,
            expires,
            disabled: false,
            deleteOnExpiration: body.deleteOnExpiration ?? false,
            created: now,
            lastModified: now,
            lastDateUsed: now,
            lastRotated: now,
            isStatic: false,
          };
          if (!(await db.insertClient(tx, fresh))) {
            const existing = (await db.getClient(tx, clientId))!;
            const same =
              sameSet(existing.scopes, scopes) &&
              existing.expires.getTime() === expires.getTime() &&
              existing.description === body.description &&
              !existing.disabled &&
              now.getTime() - existing.created.getTime() < IDEMPOTENCY_WINDOW_MS;
            if (!same)
              throw new ApiError(
                'RequestConflict',
                `Client ${clientId} already exists with another definition`,
              );
            return existing;
          }
          await recordChange(tx, 'client', clientId, actor ?? 'anonymous', 'created', 'client-created', now);
          await AuthState.announce(tx, `client:${clientId}`);
          return fresh;
        });
        ac.state.forgetClient(clientId);
        return withToken(row);
      },
    }),
    endpoint({
      name: 'resetAccessToken',
      method: 'post',
      route: '/clients/<clientId>/reset',
      params,
      scopes: 'auth:reset-access-token:<clientId>',
      output: CreateClientResponse,
      title: 'Reset Access Token',
      description: 'Gives the client a new access token, returned once; the old one stops working at once.',
      stability: 'stable',
      category: 'Clients',
      handler: async ({ params, clientId: actor }) => {
        refuseStatic(params.clientId);
        const now = ac.now();
        const row = await changeClient(params.clientId, actor, 'access token reset', () => ({
          encryptedAccessToken: ac.cipher.encrypt(newAccessToken()),
          lastRotated: now,
        }));
        return withToken(row);
      },
    }),
    endpoint({
      name: 'updateClient',
      method: 'post',
      route: '/clients/<clientId>',
      params,
      scopes: {
        AllOf: ['auth:update-client:<clientId>', { for: 'scope', in: 'scopesAdded', each: '<scope>' }],
      },
      input: CreateClientRequest,
      output: GetClientResponse,
      title: 'Update Client',
      description:
        'Sets the description, expiry, deleteOnExpiration (false when omitted) and, when given, the scopes. ' +
        'The caller must hold every scope added.',
      stability: 'stable',
      category: 'Clients',
      handler: async ({ params, body, authorize, clientId: actor }) => {
        refuseStatic(params.clientId);
        refuseBadScopes(body.scopes);
        const current = await db.getClient(ac.database, params.clientId);
        if (!current) throw notFound();
        const scopesAdded = (body.scopes ?? []).filter((s) => !current.scopes.includes(s));
        authorize({ scopesAdded });
        const row = await changeClient(params.clientId, actor, 'updated', (existing) => {
          // Re-checked under the row lock: scopes granted meanwhile by someone else count as held.
          const added = (body.scopes ?? []).filter((s) => !existing.scopes.includes(s));
          authorize({ scopesAdded: added });
          return {
            description: body.description,
            expires: new Date(body.expires),
            deleteOnExpiration: body.deleteOnExpiration ?? false,
            ...(body.scopes ? { scopes: body.scopes } : {}),
          };
        });
        return asJson(row);
      },
    }),
    endpoint({
      name: 'enableClient',
      method: 'post',
      route: '/clients/<clientId>/enable',
      params,
      scopes: 'auth:enable-client:<clientId>',
      output: GetClientResponse,
      title: 'Enable Client',
      description: 'Lets a disabled client authenticate again.',
      stability: 'stable',
      category: 'Clients',
      handler: async ({ params, clientId: actor }) => {
        refuseStatic(params.clientId);
        return asJson(
          await changeClient(params.clientId, actor, 'client enabled', () => ({ disabled: false })),
        );
      },
    }),
    endpoint({
      name: 'disableClient',
      method: 'post',
      route: '/clients/<clientId>/disable',
      params,
      scopes: 'auth:disable-client:<clientId>',
      output: GetClientResponse,
      title: 'Disable Client',
      description:
        'Stops a client from authenticating, temporary credentials it issued included, until enabled again.',
      stability: 'stable',
      category: 'Clients',
      handler: async ({ params, clientId: actor }) => {
        refuseStatic(params.clientId);
        return asJson(
          await changeClient(params.clientId, actor, 'client disabled', () => ({ disabled: true })),
        );
      },
    }),
    endpoint({
      name: 'deleteClient',
      method: 'delete',
      route: '/clients/<clientId>',
      params,
      scopes: 'auth:delete-client:<clientId>',
      title: 'Delete Client',
      description: 'Deletes a client. Deleting a client that does not exist succeeds too.',
      stability: 'stable',
      category: 'Clients',
      handler: async ({ params, clientId: actor }) => {
        refuseStatic(params.clientId);
        await ac.database.transaction(async (tx) => {
          if (await db.deleteClient(tx, params.clientId)) {
            await recordChange(
              tx,
              'client',
              params.clientId,
              actor ?? 'anonymous',
              'deleted',
              'client-deleted',
              ac.now(),
            );
            await AuthState.announce(tx, `client:${params.clientId}`);
          }
        });
        ac.state.forgetClient(params.clientId);
      },
    }),
  ];
}

export { ClientId };
