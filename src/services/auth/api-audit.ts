import { Type } from '@sinclair/typebox';
import { decodeContinuation, keysetPage, pageSize } from '../../platform/api/pagination.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import type { AuthContext } from './context.ts';
import { clientIdPattern, EntityHistoryResponse } from './schemas.ts';

const PageQuery = Type.Object({
  continuationToken: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
});

interface AuditRow {
  id: number;
  clientId: string;
  action: string;
  created: Date;
  entityType: string;
  entityId: string;
}

export function auditEndpoints(ac: AuthContext): EndpointDeclaration[] {
  async function page(
    where: 'entity' | 'actor',
    a: string,
    b: string | null,
    query: { continuationToken?: string; limit?: number },
  ) {
    const after = decodeContinuation(query.continuationToken, (v): v is { id: number } =>
      Number.isInteger(v.id),
    );
    const limit = pageSize(query.limit);
    const condition =
      where === 'entity' ? 'entity_type = $1 and entity_id = $2' : 'client_id = $1 and $2::text is null';
    const res = await ac.database.query<AuditRow & { id: string }>(
      `select id, client_id as "clientId", action_type as action, created, entity_type as "entityType",
         entity_id as "entityId"
       from auth_audit_history where ${condition} and ($3::bigint is null or id > $3) order by id limit $4`,
      [a, b, after?.id ?? null, limit + 1],
    );
    const { page, continuation } = keysetPage(res.rows, limit, (last) => ({ id: Number(last.id) }));
    return {
      auditHistory: page.map((r) => ({
        clientId: r.clientId,
        actionType: r.action,
        created: r.created.toJSON(),
        entityId: r.entityId,
        entityType: r.entityType,
      })),
      ...continuation,
    };
  }

  return [
    endpoint({
      name: 'getEntityHistory',
      method: 'get',
      route: '/audit/<entityType>/<entityId>',
      params: { entityType: /^(client|role|secret|hook|worker-pool)$/ },
      query: PageQuery,
      scopes: 'auth:audit-history:<entityType>',
      output: EntityHistoryResponse,
      title: 'Get Entity History',
      description:
        'Every recorded change to one client or role, oldest first, with the clientId that made it.',
      stability: 'stable',
      category: 'Audit',
      handler: async ({ params, query }) => page('entity', params.entityType, params.entityId, query),
    }),
    endpoint({
      name: 'listAuditHistory',
      method: 'get',
      route: '/clients/<clientId>/audit',
      params: { clientId: clientIdPattern },
      query: PageQuery,
      scopes: 'auth:client-audit-history:<clientId>',
      output: EntityHistoryResponse,
      title: 'List Audit History',
      description: 'Every change the given client made to clients and roles, oldest first.',
      stability: 'stable',
      category: 'Audit',
      handler: async ({ params, query }) => page('actor', params.clientId, null, query),
    }),
  ];
}
