import { Type } from '@sinclair/typebox';

/** A scope: printable ASCII only (no control characters, no non-ASCII). */
export const Scope = Type.String({ pattern: '^[\\x20-\\x7e]*$', title: 'Scope' });
export const ScopeList = Type.Array(Scope, { uniqueItems: true });

/** Letters, digits and `!@/:.+|_-`: clientIds may hold `/` segments, but no spaces or control characters. */
export const clientIdPattern = /^[A-Za-z0-9!@/:.+|_-]+$/;
export const ClientId = Type.String({ pattern: clientIdPattern.source, minLength: 1, maxLength: 256 });
export const roleIdPattern = /^[\x20-\x7e]+$/;
export const RoleId = Type.String({ pattern: roleIdPattern.source, minLength: 1, maxLength: 1024 });
const DateTime = Type.String({ format: 'date-time' });
const Description = Type.String({ maxLength: 10240 });

export const CreateClientRequest = Type.Object(
  {
    expires: DateTime,
    description: Description,
    scopes: Type.Optional(ScopeList),
    deleteOnExpiration: Type.Optional(Type.Boolean({ default: false })),
  },
  { $id: 'create-client-request', additionalProperties: false, title: 'Create Client Request' },
);

const clientFields = {
  clientId: ClientId,
  description: Type.String(),
  expires: DateTime,
  disabled: Type.Boolean(),
  created: DateTime,
  lastModified: DateTime,
  lastDateUsed: DateTime,
  lastRotated: DateTime,
  deleteOnExpiration: Type.Boolean(),
  scopes: Type.Array(Scope),
  expandedScopes: Type.Array(Scope),
};

export const GetClientResponse = Type.Object(clientFields, {
  $id: 'get-client-response',
  additionalProperties: false,
  title: 'Get Client Response',
});

export const CreateClientResponse = Type.Object(
  { ...clientFields, accessToken: Type.String({ minLength: 22, maxLength: 66 }) },
  { $id: 'create-client-response', additionalProperties: false, title: 'Create Client Response' },
);

export const ListClientsResponse = Type.Object(
  { clients: Type.Array(GetClientResponse), continuationToken: Type.Optional(Type.String()) },
  { $id: 'list-clients-response', additionalProperties: false },
);

export const CreateRoleRequest = Type.Object(
  { description: Description, scopes: ScopeList },
  { $id: 'create-role-request', additionalProperties: false, title: 'Create Role Request' },
);

export const GetRoleResponse = Type.Object(
  {
    roleId: RoleId,
    description: Type.String(),
    created: DateTime,
    lastModified: DateTime,
    scopes: Type.Array(Scope),
    expandedScopes: Type.Array(Scope),
  },
  { $id: 'get-role-response', additionalProperties: false, title: 'Get Role Response' },
);

export const ListRolesResponse = Type.Array(GetRoleResponse, { $id: 'list-roles-response' });
export const ListRoles2Response = Type.Object(
  { roles: Type.Array(GetRoleResponse), continuationToken: Type.Optional(Type.String()) },
  { $id: 'list-roles2-response', additionalProperties: false },
);
export const ListRoleIdsResponse = Type.Object(
  { roleIds: Type.Array(RoleId), continuationToken: Type.Optional(Type.String()) },
  { $id: 'list-role-ids-response', additionalProperties: false },
);

export const ScopeSet = Type.Object({ scopes: ScopeList }, { $id: 'scopeset', additionalProperties: false });

export const AuthenticateHawkRequest = Type.Object(
  {
    method: Type.String({ minLength: 1, maxLength: 16 }),
    resource: Type.String({ minLength: 1, maxLength: 65536 }),
    host: Type.String({ minLength: 1, maxLength: 1024 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    authorization: Type.Optional(Type.String({ maxLength: 65536 })),
    sourceIp: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { $id: 'authenticate-hawk-request', additionalProperties: false },
);

export const AuthenticateHawkResponse = Type.Union(
  [
    Type.Object(
      {
        status: Type.Literal('auth-success'),
        scheme: Type.Literal('hawk'),
        scopes: Type.Array(Scope),
        clientId: Type.String(),
        expires: DateTime,
        hash: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        status: Type.Literal('no-auth'),
        scheme: Type.Literal('none'),
        scopes: Type.Array(Scope),
        expires: DateTime,
      },
      { additionalProperties: false },
    ),
    Type.Object(
      { status: Type.Literal('auth-failed'), message: Type.String() },
      { additionalProperties: false },
    ),
  ],
  { $id: 'authenticate-hawk-response' },
);

export const TestAuthenticateRequest = Type.Object(
  { clientScopes: Type.Optional(ScopeList), requiredScopes: Type.Optional(ScopeList) },
  { $id: 'test-authenticate-request', additionalProperties: false },
);
export const TestAuthenticateResponse = Type.Object(
  { clientId: Type.String(), scopes: Type.Array(Scope) },
  { $id: 'test-authenticate-response', additionalProperties: false },
);

export const EntityHistoryResponse = Type.Object(
  {
    auditHistory: Type.Array(
      Type.Object(
        {
          clientId: Type.String(),
          actionType: Type.String(),
          created: DateTime,
          entityId: Type.String(),
          entityType: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
    continuationToken: Type.Optional(Type.String()),
  },
  { $id: 'get-entity-history-response', additionalProperties: false },
);

export const PageQuery = Type.Object(
  {
    continuationToken: Type.Optional(Type.String({ maxLength: 1024 })),
    limit: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const ClientMessage = Type.Object(
  { version: Type.Literal(1), clientId: Type.String() },
  { $id: 'client-message', additionalProperties: false },
);
export const RoleMessage = Type.Object(
  { version: Type.Literal(1), roleId: Type.String() },
  { $id: 'role-message', additionalProperties: false },
);
