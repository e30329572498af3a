import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Role, RoleValidationError, validateRoles } from '../../../src/platform/scopes/index.ts';

type Verdict = 'ok' | 'DependencyCycleError' | 'InvalidScopeError';

const toRoles = (roles: Array<[string, string[]]>): Role[] =>
  roles.map(([roleId, scopes]) => ({ roleId, scopes }));

const verdict = (roles: Role[]): Verdict => {
  try {
    validateRoles(roles);
    return 'ok';
  } catch (err) {
    if (err instanceof RoleValidationError) {
      return err.code;
    }
    throw err;
  }
};

/** Role sets and the verdicts Taskcluster's auth service reaches on them. */
const cases: Array<{ name: string; roles: Array<[string, string[]]>; expected: Verdict }> = [
  {
    name: 'roles without assume: scopes',
    roles: [
      ['a', ['A']],
      ['b', ['B']],
      ['c', ['C']],
    ],
    expected: 'ok',
  },
  {
    name: 'roles forming a DAG',
    roles: [
      ['a', ['assume:c']],
      ['b', ['assume:c']],
      ['c', ['assume:e']],
    ],
    expected: 'ok',
  },
  {
    name: 'a three-role cycle',
    roles: [
      ['a', ['assume:c']],
      ['b', ['assume:c']],
      ['c', ['assume:a']],
    ],
    expected: 'DependencyCycleError',
  },
  {
    name: 'prefix roles forming a DAG',
    roles: [
      ['a*', ['assume:c']],
      ['b*', ['assume:c']],
      ['c*', ['assume:e']],
    ],
    expected: 'ok',
  },
  {
    name: 'a cycle through prefix roles',
    roles: [
      ['a*', ['assume:c']],
      ['b*', ['assume:c']],
      ['c*', ['assume:a']],
    ],
    expected: 'DependencyCycleError',
  },
  { name: 'a prefix role granting an unrelated role', roles: [['a*', ['assume:b']]], expected: 'ok' },
  { name: 'a prefix role granting an unrelated star scope', roles: [['a*', ['assume:b*']]], expected: 'ok' },
  { name: 'a parameter at the end', roles: [['a*', ['assume:b<..>']]], expected: 'ok' },
  { name: 'a parameter followed by a star', roles: [['a*', ['assume:b<..>*']]], expected: 'ok' },
  { name: 'a parameter followed by text', roles: [['a*', ['assume:b<..>c']]], expected: 'ok' },
  { name: 'a parameter followed by text and a star', roles: [['a*', ['assume:b<..>c*']]], expected: 'ok' },
  {
    name: 'a parameter right after a star',
    roles: [['a*', ['assume:b*<..>']]],
    expected: 'InvalidScopeError',
  },
  { name: 'two parameters', roles: [['a*', ['assume:b<..>c<..>']]], expected: 'InvalidScopeError' },
  { name: 'two adjacent parameters', roles: [['a*', ['assume:b<..><..>']]], expected: 'InvalidScopeError' },
  {
    name: 'two parameters with text after',
    roles: [['a*', ['assume:b<..>c<..>d']]],
    expected: 'InvalidScopeError',
  },
  {
    name: 'parameterized roles forming a DAG',
    roles: [
      ['a*', ['assume:c<..>A']],
      ['b*', ['assume:c<..>B*']],
      ['c*', ['assume:e<..>']],
    ],
    expected: 'ok',
  },
  ...[['assume:a<..>'], ['assume:b<..>'], ['assume:<..>'], ['assume:b']].map((cScopes, i) => ({
    name: `a parameterized cycle (variant ${i + 1})`,
    roles: [
      ['a*', ['assume:c<..>A']],
      ['b*', ['assume:c<..>B*']],
      ['c*', cScopes],
    ] as Array<[string, string[]]>,
    expected: 'DependencyCycleError' as const,
  })),
  { name: 'a role assuming itself', roles: [['abc', ['assume:abc']]], expected: 'DependencyCycleError' },
  {
    name: 'a chain of four roles',
    roles: [
      ['abc', ['assume:def']],
      ['def', ['assume:ghi']],
      ['ghi', ['assume:jkl']],
      ['jkl', ['assume:abcd']],
    ],
    expected: 'ok',
  },
  {
    name: 'roles converging on a missing role',
    roles: [
      ['abc', ['assume:def']],
      ['def', ['assume:ghi']],
      ['ghi', ['assume:xyz']],
      ['jkl', ['assume:xyz']],
    ],
    expected: 'ok',
  },
  {
    name: 'roles converging on an existing role',
    roles: [
      ['abc', ['assume:xyz']],
      ['def', ['assume:xyz']],
      ['ghi', ['assume:xyz']],
      ['jkl', ['assume:xyz']],
      ['xyz', ['some-scope']],
    ],
    expected: 'ok',
  },
  {
    name: 'a role assuming a star scope covering itself',
    roles: [['abc', ['assume:ab*']]],
    expected: 'DependencyCycleError',
  },
  {
    name: 'a prefix role assuming a role it matches',
    roles: [['ab*', ['assume:abc']]],
    expected: 'DependencyCycleError',
  },
  {
    name: 'a prefix role assuming a star scope it matches',
    roles: [['ab*', ['assume:abc*']]],
    expected: 'DependencyCycleError',
  },
  {
    name: 'four roles with stars but no cycle',
    roles: [
      ['abc', ['assume:d*']],
      ['def', ['assume:ghi']],
      ['g*', ['assume:jkl']],
      ['jkl', ['assume:ab']],
    ],
    expected: 'ok',
  },
  {
    name: 'a parameterized self-cycle',
    roles: [['a*', ['assume:ab<..>']]],
    expected: 'DependencyCycleError',
  },
  {
    name: 'a parameterized self-cycle with a suffix',
    roles: [['a*', ['assume:a<..>x']]],
    expected: 'DependencyCycleError',
  },
  {
    name: 'a parameterized self-cycle with a prefix and suffix',
    roles: [['a*', ['assume:ab<..>x']]],
    expected: 'DependencyCycleError',
  },
  {
    name: 'a cycle of two parameterized roles',
    roles: [
      ['a*', ['assume:b<..>x']],
      ['b*', ['assume:a<..>']],
    ],
    expected: 'DependencyCycleError',
  },
  {
    name: 'a cycle of two parameterized roles where the scope is a prefix of the role',
    roles: [
      ['a*', ['assume:b<..>x']],
      ['bstuff*', ['assume:a<..>']],
    ],
    expected: 'DependencyCycleError',
  },
  {
    name: 'a cycle of two parameterized roles where the role is a prefix of the scope',
    roles: [
      ['a*', ['assume:bstuff<..>x']],
      ['b*', ['assume:a<..>']],
    ],
    expected: 'DependencyCycleError',
  },
  {
    name: 'a parameter completing a prefix of assume:',
    roles: [['b*', ['as<..>']]],
    expected: 'DependencyCycleError',
  },
  {
    name: 'parameterized roles without a cycle',
    roles: [
      ['bb*', ['assume:cd<..>']],
      ['cde*', ['assume:de<..>x']],
      ['d*', ['assume:b']],
    ],
    expected: 'ok',
  },
  {
    name: 'parameterized roles with a cycle even though expansion would reach a fixed point',
    roles: [
      ['b*', ['assume:cd<..>']],
      ['cde*', ['assume:de<..>x']],
      ['d*', ['assume:bx']],
    ],
    expected: 'DependencyCycleError',
  },
];

describe('validateRoles', () => {
  for (const c of cases) {
    it(`judges ${c.name} as ${c.expected} in every order`, () => {
      fc.assert(
        fc.property(fc.shuffledSubarray(c.roles, { minLength: c.roles.length }), (shuffled) => {
          expect(verdict(toRoles(shuffled))).toBe(c.expected);
        }),
        { numRuns: 30 },
      );
    });
  }

  it('reports the cycle as assume: scopes, starting and ending with the same role', () => {
    const roles = toRoles([
      ['a', ['assume:b']],
      ['b', ['assume:c']],
      ['c', ['assume:a']],
      ['d', ['assume:a']],
    ]);
    try {
      validateRoles(roles);
      expect.unreachable('expected a cycle');
    } catch (err) {
      expect(err).toBeInstanceOf(RoleValidationError);
      const cycle = (err as RoleValidationError).cycle ?? [];
      expect(cycle[0]).toBe(cycle[cycle.length - 1]);
      expect(new Set(cycle)).toEqual(new Set(['assume:a', 'assume:b', 'assume:c']));
      expect((err as Error).message).toContain("'assume:a'");
    }
  });

  it('reports the offending scope of an invalid parameterized scope', () => {
    try {
      validateRoles(toRoles([['a*', ['ok', 'x<..>y<..>']]]));
      expect.unreachable('expected an invalid scope');
    } catch (err) {
      expect((err as RoleValidationError).code).toBe('InvalidScopeError');
      expect((err as RoleValidationError).scope).toBe('x<..>y<..>');
    }
  });

  it('ignores <..> in roles without a trailing star', () => {
    expect(verdict(toRoles([['a', ['x<..>y<..>', 'b*<..>']]]))).toBe('ok');
  });

  it('accepts a chain of 5000 roles without exhausting the stack', () => {
    const roles = Array.from({ length: 5000 }, (_, i) => ({ roleId: `r${i}`, scopes: [`assume:r${i + 1}`] }));
    expect(verdict(roles)).toBe('ok');
    roles.push({ roleId: 'r5000', scopes: ['assume:r0'] });
    expect(verdict(roles)).toBe('DependencyCycleError');
  });
});
