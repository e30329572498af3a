import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  normalizeScopeSet,
  type Role,
  RoleResolver,
  RoleValidationError,
  scopeMatch,
  validateRoles,
} from '../../../src/platform/scopes/index.ts';

// Tiny alphabets make role ids, prefixes and stars collide often.
const fragment = fc.string({ unit: fc.constantFrom('a', 'b', '*', ':'), maxLength: 3 });
const assumeScope = fragment.map((s) => `assume:${s}`);
const reachAll = fc.constantFrom('*', 'a*', 'as*', 'assume*', 'assume:*', 'ass*');
const plainScope = fc.oneof(assumeScope, fragment, reachAll);
const paramScope = fc.oneof(
  plainScope,
  fc.tuple(fragment, fragment).map(([a, b]) => `assume:${a}<..>${b}`),
  fc.tuple(fragment, fragment).map(([a, b]) => `${a}<..>${b}`),
);
const rolesOf = (scope: fc.Arbitrary<string>): fc.Arbitrary<Role[]> =>
  fc.uniqueArray(fc.record({ roleId: fragment, scopes: fc.array(scope, { maxLength: 3 }) }), {
    selector: (r) => r.roleId,
    maxLength: 6,
  });

/** Roles without parameters; cycles allowed, since expansion then always terminates. */
const plainRoles = rolesOf(plainScope);

const isAcceptable = (roles: Role[]) => {
  try {
    validateRoles(roles);
    return true;
  } catch (err) {
    if (err instanceof RoleValidationError) {
      return false;
    }
    throw err;
  }
};

/** Roles with parameters, limited to sets Taskcluster accepts (no cycles). */
const acceptedParamRoles = rolesOf(paramScope).filter(isAcceptable);

const anyRoles = fc.oneof(plainRoles, acceptedParamRoles);
const held = fc.array(fc.oneof(assumeScope, fragment, reachAll), { maxLength: 4 });
const runs = { numRuns: 300 };

/**
 * The rules spelled out as directly as possible, for comparison: the role input a held
 * scope stands for, the parameter (if any) with which a role matches it, and a worklist
 * that follows every granted scope once. Whether a grant is redundant is deliberately not
 * judged here: `a**` satisfies the string `a*` yet covers less, so pruning by satisfaction
 * would be wrong.
 */
const inputOf = (scope: string): string | null => {
  if (scope.startsWith('assume:')) {
    return scope.slice('assume:'.length);
  }
  return scope.endsWith('*') && 'assume:'.startsWith(scope.slice(0, -1)) ? '*' : null;
};

const paramFor = (roleId: string, input: string): string | null => {
  const star = input.endsWith('*');
  const literal = star ? input.slice(0, -1) : input;
  if (!roleId.endsWith('*')) {
    return (star ? roleId.startsWith(literal) : roleId === input) ? '' : null;
  }
  const prefix = roleId.slice(0, -1);
  if (literal.startsWith(prefix)) {
    return input.slice(prefix.length);
  }
  return star && prefix.startsWith(literal) ? '*' : null;
};

const grant = (roleId: string, scope: string, param: string): string => {
  const at = scope.indexOf('<..>');
  if (!roleId.endsWith('*') || at === -1) {
    return scope;
  }
  return param.endsWith('*')
    ? scope.slice(0, at) + param
    : scope.slice(0, at) + param + scope.slice(at + '<..>'.length);
};

const referenceExpand = (roles: Role[], scopes: string[]): string[] => {
  const all = [...scopes];
  const followed = new Set<string>();
  const queue = [...scopes];
  while (queue.length > 0) {
    const scope = queue.pop() as string;
    const input = followed.has(scope) ? null : inputOf(scope);
    followed.add(scope);
    if (input === null) {
      continue;
    }
    for (const { roleId, scopes: granted } of roles) {
      const param = paramFor(roleId, input);
      if (param !== null) {
        const grants = granted.map((g) => grant(roleId, g, param));
        all.push(...grants);
        queue.push(...grants);
      }
    }
  }
  return normalizeScopeSet(all);
};

describe('role expansion laws', () => {
  it('agrees with a direct worklist implementation of the rules', () => {
    fc.assert(
      fc.property(anyRoles, held, (roles, scopes) => {
        expect(new RoleResolver(roles).expand(scopes)).toEqual(referenceExpand(roles, scopes));
      }),
      { numRuns: 1000 },
    );
  });

  it('expand(x) satisfies every scope of x', () => {
    fc.assert(
      fc.property(anyRoles, held, (roles, scopes) => {
        const expanded = new RoleResolver(roles).expand(scopes);
        expect(scopes.every((s) => scopeMatch(expanded, s))).toBe(true);
      }),
      runs,
    );
  });

  it('expand is idempotent', () => {
    fc.assert(
      fc.property(anyRoles, held, (roles, scopes) => {
        const resolver = new RoleResolver(roles);
        const once = resolver.expand(scopes);
        expect(resolver.expand(once)).toEqual(once);
      }),
      runs,
    );
  });

  it('expand is monotone: holding more scopes never satisfies less', () => {
    fc.assert(
      fc.property(anyRoles, held, held, (roles, some, more) => {
        const resolver = new RoleResolver(roles);
        const small = resolver.expand(some);
        const large = resolver.expand([...some, ...more]);
        expect(small.filter((s) => !scopeMatch(large, s))).toEqual([]);
      }),
      runs,
    );
  });

  it('expand distributes over union', () => {
    fc.assert(
      fc.property(anyRoles, held, held, (roles, a, b) => {
        const resolver = new RoleResolver(roles);
        expect(resolver.expand([...a, ...b])).toEqual(
          normalizeScopeSet([...resolver.expand(a), ...resolver.expand(b)]),
        );
      }),
      runs,
    );
  });

  it('expand returns a normalized set', () => {
    fc.assert(
      fc.property(anyRoles, held, (roles, scopes) => {
        const expanded = new RoleResolver(roles).expand(scopes);
        expect(normalizeScopeSet(expanded)).toEqual(expanded);
      }),
      runs,
    );
  });

  it('expand does not depend on the order of roles or on caching', () => {
    fc.assert(
      fc.property(
        anyRoles.chain((roles) =>
          fc.tuple(fc.constant(roles), fc.shuffledSubarray(roles, { minLength: roles.length })),
        ),
        fc.array(held, { minLength: 1, maxLength: 4 }),
        ([roles, shuffled], inputs) => {
          const cached = new RoleResolver(roles);
          const uncached = new RoleResolver(shuffled, { cacheSize: 0, closureCacheSize: 0 });
          for (const scopes of [...inputs, ...inputs]) {
            expect(cached.expand(scopes)).toEqual(uncached.expand(scopes));
          }
        },
      ),
      runs,
    );
  });
});
