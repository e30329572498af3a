import { Type } from '@sinclair/typebox';
import { decodeContinuation, encodeContinuation } from '../../platform/api/pagination.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { ApiError } from '../../platform/errors.ts';
import {
  normalizeScopeSet,
  RoleValidationError,
  satisfiesExpression,
  scopeCompare,
  validateRoles,
} from '../../platform/scopes/index.ts';
import { type AuthContext, recordChange, refuseDoubleStar } from './context.ts';
import * as db from './db.ts';
import { scopeToHoldForGranting } from './role-checks.ts';
import {
  CreateRoleRequest,
  GetRoleResponse,
  ListRoleIdsResponse,
  ListRoles2Response,
  ListRolesResponse,
  roleIdPattern,
} from './schemas.ts';
import { AuthState } from './state.ts';

const params = { roleId: roleIdPattern };
const PageQuery = Type.Object({
  continuationToken: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
});

export function roleEndpoints(ac: AuthContext): EndpointDeclaration[] {
  const roleJson = (r: db.RoleRow) => ({
    roleId: r.roleId,
    description: r.description,
    created: r.created.toJSON(),
    lastModified: r.lastModified.toJSON(),
    scopes: r.scopes,
    expandedScopes: ac.state.expand([`assume:${r.roleId}`]),
  });

  function checkScopes(scopes: string[]): void {
    const doubleStar = refuseDoubleStar(scopes);
    if (doubleStar) {
      throw new ApiError(
        'InputError',
        `scope ${JSON.stringify(doubleStar)} ends with "**", which is not allowed`,
      );
    }
  }

  /**
   * Writes one role under a table lock, so the cycle check sees every other role as it will be,
   * then reloads the resolver here (other processes hear the NOTIFY).
   */
  async function writeRole(
    roleId: string,
    actor: string | undefined,
    write: (
      tx: db.Queryable,
      existing: db.RoleRow | undefined,
      all: db.RoleRow[],
    ) => Promise<'created' | 'updated' | 'same'>,
  ): Promise<db.RoleRow> {
    const row = await ac.database.transaction(async (tx) => {
      await tx.query('lock table auth_roles in share row exclusive mode');
      const all = await db.listRoles(tx);
      const existing = all.find((r) => r.roleId === roleId);
      const outcome = await write(tx, existing, all);
      if (outcome !== 'same') {
        const now = ac.now();
        await recordChange(tx, 'role', roleId, actor ?? 'anonymous', outcome, `role-${outcome}`, now);
        await AuthState.announce(tx, 'roles');
      }
      return (await db.getRole(tx, roleId))!;
    });
    await ac.state.reloadRoles();
    return row;
  }

  /** Refuses a role set with a dependency cycle or a malformed `<..>` scope, as upstream does. */
  function refuseInvalid(all: db.RoleRow[], roleId: string, scopes: string[]): void {
    try {
      validateRoles([...all.filter((r) => r.roleId !== roleId), { roleId, scopes }]);
    } catch (err) {
      if (!(err instanceof RoleValidationError)) throw err;
      const what =
        err.code === 'DependencyCycleError' ? 'Roles may not contain dependency cycles' : 'Invalid scope';
      throw new ApiError('InputError', `${what}: ${err.message}`, { cycle: err.cycle, scope: err.scope });
    }
  }

  const pageOf = <T>(items: T[], query: { continuationToken?: string; limit?: number }) => {
    if (!query.limit) return { page: items, next: undefined };
    const at = decodeContinuation(query.continuationToken, (v): v is { offset: number } =>
      Number.isInteger(v.offset),
    );
    const offset = at?.offset ?? 0;
    const end = offset + query.limit;
    return {
      page: items.slice(offset, end),
      next: end < items.length ? encodeContinuation({ offset: end }) : undefined,
    };
  };

  return [
    endpoint({
      name: 'listRoles',
      method: 'get',
      route: '/roles/',
      scopes: 'auth:list-roles',
      output: ListRolesResponse,
      title: 'List Roles',
      description: 'Every role, ordered by roleId, in one array.',
      stability: 'stable',
      category: 'Roles',
      handler: async () => (await db.listRoles(ac.database)).map(roleJson),
    }),
    endpoint({
      name: 'listRoles2',
      method: 'get',
      route: '/roles2/',
      query: PageQuery,
      scopes: 'auth:list-roles',
      output: ListRoles2Response,
      title: 'List Roles (paginated)',
      description: 'Roles ordered by roleId, a page of `limit` at a time (all of them without a limit).',
      stability: 'stable',
      category: 'Roles',
      handler: async ({ query }) => {
        const { page, next } = pageOf(await db.listRoles(ac.database), query);
        return { roles: page.map(roleJson), ...(next ? { continuationToken: next } : {}) };
      },
    }),
    endpoint({
      name: 'listRoleIds',
      method: 'get',
      route: '/roleids/',
      query: PageQuery,
      scopes: 'auth:list-roles',
      output: ListRoleIdsResponse,
      title: 'List Role IDs',
      description: 'RoleIds in order, a page of `limit` at a time (all of them without a limit).',
      stability: 'stable',
      category: 'Roles',
      handler: async ({ query }) => {
        const { page, next } = pageOf(await db.listRoles(ac.database), query);
        return { roleIds: page.map((r) => r.roleId), ...(next ? { continuationToken: next } : {}) };
      },
    }),
    endpoint({
      name: 'role',
      method: 'get',
      route: '/roles/<roleId>',
      params,
      scopes: 'auth:get-role:<roleId>',
      output: GetRoleResponse,
      title: 'Get Role',
      description: 'A role: its scopes and everything they expand to.',
      stability: 'stable',
      category: 'Roles',
      handler: async ({ params }) => {
        const row = await db.getRole(ac.database, params.roleId);
        if (!row) throw new ApiError('ResourceNotFound', `Role ${params.roleId} not found`);
        return roleJson(row);
      },
    }),
    endpoint({
      name: 'createRole',
      method: 'put',
      route: '/roles/<roleId>',
      params,
      scopes: { AllOf: ['auth:create-role:<roleId>', { for: 'scope', in: 'scopes', each: '<scope>' }] },
      input: CreateRoleRequest,
      output: GetRoleResponse,
      title: 'Create Role',
      description:
        'Creates a role: every client holding `assume:<roleId>` gets its scopes. The caller must hold each ' +
        'scope it grants. Repeating the same request returns the role; a different one for an existing roleId is a 409.',
      stability: 'stable',
      category: 'Roles',
      handler: async ({ params, body, authorize, clientId: actor }) => {
        const { roleId } = params;
        checkScopes(body.scopes);
        authorize({ scopes: body.scopes.map(scopeToHoldForGranting) });
        const scopes = [...body.scopes].sort(scopeCompare);
        const row = await writeRole(roleId, actor, async (tx, existing, all) => {
          if (existing) {
            const same =
              existing.description === body.description &&
              [...existing.scopes].sort(scopeCompare).join('\n') === scopes.join('\n');
            if (!same)
              throw new ApiError('RequestConflict', `Role ${roleId} already exists with another definition`, {
                roleId,
              });
            return 'same';
          }
          refuseInvalid(all, roleId, scopes);
          const now = ac.now();
          await db.insertRole(tx, {
            roleId,
            description: body.description,
            scopes,
            created: now,
            lastModified: now,
          });
          return 'created';
        });
        return roleJson(row);
      },
    }),
    endpoint({
      name: 'updateRole',
      method: 'post',
      route: '/roles/<roleId>',
      params,
      scopes: { AllOf: ['auth:update-role:<roleId>', { for: 'scope', in: 'scopesAdded', each: '<scope>' }] },
      input: CreateRoleRequest,
      output: GetRoleResponse,
      title: 'Update Role',
      description:
        'Replaces the description and scopes of a role. The caller must hold every scope the role did not ' +
        'already grant; removing scopes needs no more than `auth:update-role:<roleId>`.',
      stability: 'stable',
      category: 'Roles',
      handler: async ({ params, body, authorize, clientId: actor }) => {
        const { roleId } = params;
        checkScopes(body.scopes);
        const row = await writeRole(roleId, actor, async (tx, existing, all) => {
          if (!existing) throw new ApiError('ResourceNotFound', `Role ${roleId} not found`);
          const granted = normalizeScopeSet(ac.state.expand(existing.scopes));
          const scopesAdded = body.scopes
            .filter((s) => !satisfiesExpression(granted, s))
            .map(scopeToHoldForGranting);
          authorize({ scopesAdded });
          refuseInvalid(all, roleId, body.scopes);
          await db.updateRole(tx, roleId, body.description, body.scopes, ac.now());
          return 'updated';
        });
        return roleJson(row);
      },
    }),
    endpoint({
      name: 'deleteRole',
      method: 'delete',
      route: '/roles/<roleId>',
      params,
      scopes: 'auth:delete-role:<roleId>',
      title: 'Delete Role',
      description:
        'Deletes a role; clients lose what it granted at once. Deleting a missing role succeeds too.',
      stability: 'stable',
      category: 'Roles',
      handler: async ({ params, clientId: actor }) => {
        await ac.database.transaction(async (tx) => {
          if (await db.deleteRole(tx, params.roleId)) {
            await recordChange(
              tx,
              'role',
              params.roleId,
              actor ?? 'anonymous',
              'deleted',
              'role-deleted',
              ac.now(),
            );
            await AuthState.announce(tx, 'roles');
          }
        });
        await ac.state.reloadRoles();
      },
    }),
  ];
}
