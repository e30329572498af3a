import { describe, expect, it } from 'vitest';
import {
  normalizeScopeSet,
  type Role,
  RoleExpansionError,
  RoleResolver,
} from '../../../src/platform/scopes/index.ts';

const toRoles = (roles: Record<string, string[]>): Role[] =>
  Object.entries(roles).map(([roleId, scopes]) => ({ roleId, scopes }));

const expand = (roles: Record<string, string[]>, held: string[]) =>
  new RoleResolver(toRoles(roles)).expand(held);

const ABC = { a: ['A'], b: ['B'], c: ['C'] };

/** Input/output pairs Taskcluster's own scope resolver is tested against. */
const cases: Array<{ name: string; roles: Record<string, string[]>; held: string[]; expected: string[] }> = [
  {
    name: 'scopes pass through without roles',
    roles: {},
    held: ['a', 'b', 'c*'],
    expected: ['a', 'b', 'c*'],
  },
  {
    name: 'passed-through scopes are normalized',
    roles: {},
    held: ['a*', 'ab', 'ac*', 'a'],
    expected: ['a*'],
  },
  {
    name: 'assume:a* reaches a, aa, ab and a*',
    roles: { a: ['A'], aa: ['AA'], ab: ['AB'], 'a*': ['ASTAR'] },
    held: ['assume:a*'],
    expected: ['assume:a*', 'A', 'AA', 'AB', 'ASTAR'],
  },
  {
    name: 'assume:ab* reaches ab and abc but not a',
    roles: { a: ['A'], ab: ['AB'], abc: ['ABC'] },
    held: ['assume:ab*'],
    expected: ['assume:ab*', 'AB', 'ABC'],
  },
  {
    name: 'assume:a reaches the prefix role a* but not ab*',
    roles: { 'a*': ['ASTAR'], 'ab*': ['ABSTAR'] },
    held: ['assume:a'],
    expected: ['assume:a', 'ASTAR'],
  },
  {
    name: 'a star scope reaches long role ids it is a prefix of',
    roles: {
      'ab*': ['ABSTAR'],
      aaaaaaaaaaaaa: ['long'],
      aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: ['longer'],
      ababaabdssafsdcsdcsacwscwcscsesdsdfdsfdsfsdfsfdsdfsdfsdfsafewfsewfwsd: ['longest'],
    },
    held: ['assume:ab*'],
    expected: ['assume:ab*', 'ABSTAR', 'longest'],
  },
  {
    name: 'assume:ab reaches both ab* and a*',
    roles: { 'ab*': ['ABSTAR'], 'a*': ['ASTAR'] },
    held: ['assume:ab'],
    expected: ['assume:ab', 'ABSTAR', 'ASTAR'],
  },
  {
    name: 'assume:a reaches the role * and the role a*',
    roles: { '*': ['STAR'], 'a*': ['ASTAR'] },
    held: ['assume:a'],
    expected: ['assume:a', 'STAR', 'ASTAR'],
  },
  {
    name: 'assume:ab reaches only the prefix roles it starts with',
    roles: { 'a*': ['ASTAR'], 'ab*': ['ABSTAR'], 'ac*': ['ACSTAR'], d: ['D'] },
    held: ['assume:ab'],
    expected: ['assume:ab', 'ASTAR', 'ABSTAR'],
  },
  {
    name: 'assume:aa* reaches a* and aabc',
    roles: { 'a*': ['ASTAR'], aabc: ['AABC'] },
    held: ['assume:aa*'],
    expected: ['assume:aa*', 'ASTAR', 'AABC'],
  },
  { name: 'the scope * already satisfies everything', roles: ABC, held: ['*'], expected: ['*'] },
  { name: 'a* reaches every role', roles: ABC, held: ['a*'], expected: ['a*', 'A', 'B', 'C'] },
  { name: 'as* reaches every role', roles: ABC, held: ['as*'], expected: ['as*', 'A', 'B', 'C'] },
  { name: 'ass* reaches every role', roles: ABC, held: ['ass*'], expected: ['ass*', 'A', 'B', 'C'] },
  { name: 'assu* reaches every role', roles: ABC, held: ['assu*'], expected: ['assu*', 'A', 'B', 'C'] },
  { name: 'assum* reaches every role', roles: ABC, held: ['assum*'], expected: ['assum*', 'A', 'B', 'C'] },
  { name: 'assume* reaches every role', roles: ABC, held: ['assume*'], expected: ['assume*', 'A', 'B', 'C'] },
  {
    name: 'assume:* reaches every role',
    roles: ABC,
    held: ['assume:*'],
    expected: ['assume:*', 'A', 'B', 'C'],
  },
  ...[':*', '::*', ':a*', ':as*', ':ass*', ':assu*', ':assum*', ':assume*'].map((scope) => ({
    name: `${scope} reaches no role`,
    roles: ABC,
    held: [scope],
    expected: [scope],
  })),
  {
    name: 'assume:a reaches exactly the role a',
    roles: ABC,
    held: ['assume:a'],
    expected: ['assume:a', 'A'],
  },
  {
    name: 'assume:ab reaches exactly the role ab',
    roles: { a: ['A'], ab: ['AB'], abc: ['ABC'] },
    held: ['assume:ab'],
    expected: ['assume:ab', 'AB'],
  },
  {
    name: 'assume:ab* reaches the prefix role a* as well as ab and abc',
    roles: { 'a*': ['ASTAR'], ab: ['AB'], abc: ['ABC'] },
    held: ['assume:ab*'],
    expected: ['assume:ab*', 'ASTAR', 'AB', 'ABC'],
  },
  {
    name: 'assume:ab reaches ab and a*',
    roles: { 'a*': ['ASTAR'], ab: ['AB'], abc: ['ABC'] },
    held: ['assume:ab'],
    expected: ['assume:ab', 'ASTAR', 'AB'],
  },
  {
    name: 'a star inside a held scope is literal: assume:a*b* reaches a*b and a*bc',
    roles: {
      a: ['A'],
      'a*b': ['ASTARB'],
      'a*bc': ['ASTARBC'],
      ab: ['AB'],
      abc: ['ABC'],
      'b*': ['BSTAR'],
      'c*': ['CSTAR'],
      'ab*': ['ABSTAR'],
    },
    held: ['assume:a*b*'],
    expected: ['assume:a*b*', 'ASTARB', 'ASTARBC'],
  },
  {
    name: 'assume:a*b reaches the prefix role a* and the role a*b',
    roles: {
      'a*': ['ASTAR'],
      'a*b': ['ASTARB'],
      'a*bc': ['ASTARBC'],
      ab: ['AB'],
      abc: ['ABC'],
      'b*': ['BSTAR'],
      'c*': ['CSTAR'],
      'ab*': ['ABSTAR'],
    },
    held: ['assume:a*b'],
    expected: ['assume:a*b', 'ASTARB', 'ASTAR'],
  },
  {
    name: 'assume:a*b* reaches a*, a*b and a*bc',
    roles: {
      'a*': ['ASTAR'],
      'a*b': ['ASTARB'],
      'a*bc': ['ASTARBC'],
      ab: ['AB'],
      abc: ['ABC'],
      'b*': ['BSTAR'],
      'c*': ['CSTAR'],
      'ab*': ['ABSTAR'],
    },
    held: ['assume:a*b*'],
    expected: ['assume:a*b*', 'ASTARB', 'ASTARBC', 'ASTAR'],
  },
  {
    name: 'a parameterized role substitutes the matched remainder',
    roles: { 'a*': ['A<..>'] },
    held: ['assume:abc'],
    expected: ['assume:abc', 'Abc'],
  },
  {
    name: 'a parameterized role matched by a star scope substitutes a star remainder',
    roles: { 'a*': ['A<..>'] },
    held: ['assume:abc*'],
    expected: ['assume:abc*', 'Abc*'],
  },
  {
    name: 'a parameterized role keeps text after <..>',
    roles: { 'a*': ['A<..>X'] },
    held: ['assume:abc'],
    expected: ['assume:abc', 'AbcX'],
  },
  {
    name: 'a star remainder drops text after <..>',
    roles: { 'a*': ['A<..>X'] },
    held: ['assume:abc*'],
    expected: ['assume:abc*', 'Abc*'],
  },
  {
    name: 'a star scope shorter than the role id substitutes just a star',
    roles: { 'abc*': ['ABC<..>DEF'] },
    held: ['assume:a*'],
    expected: ['assume:a*', 'ABC*'],
  },
];

describe('RoleResolver.expand', () => {
  for (const c of cases) {
    it(`expands as Taskcluster does when ${c.name}`, () => {
      expect(expand(c.roles, c.held)).toEqual(normalizeScopeSet(c.expected));
    });
  }

  it('substitutes the repository for <..> in a repo:github.com/* role', () => {
    const roles = { 'repo:github.com/*': ['secrets:get:repo/<..>', 'queue:route:index.gh.<..>.*', 'plain'] };
    expect(expand(roles, ['assume:repo:github.com/foo'])).toEqual([
      'assume:repo:github.com/foo',
      'plain',
      'queue:route:index.gh.foo.*',
      'secrets:get:repo/foo',
    ]);
    expect(expand(roles, ['assume:repo:github.com/f*'])).toEqual([
      'assume:repo:github.com/f*',
      'plain',
      'queue:route:index.gh.f*',
      'secrets:get:repo/f*',
    ]);
    expect(expand(roles, ['assume:rep*'])).toEqual([
      'assume:rep*',
      'plain',
      'queue:route:index.gh.*',
      'secrets:get:repo/*',
    ]);
  });

  it('treats <..> in an exact role as literal text', () => {
    expect(expand({ a: ['A<..>'] }, ['assume:a'])).toEqual(['A<..>', 'assume:a']);
  });

  it('follows assume: scopes granted by roles recursively', () => {
    const roles = { a: ['assume:b', 'A'], b: ['assume:c*', 'B'], cx: ['DX'], 'c*': ['C<..>!'] };
    expect(expand(roles, ['assume:a'])).toEqual(['A', 'B', 'C*', 'DX', 'assume:a', 'assume:b', 'assume:c*']);
  });

  it('terminates on role cycles and grants the scopes of the whole cycle', () => {
    const roles = { a: ['assume:b', 'A'], b: ['assume:c', 'B'], c: ['assume:a', 'C'] };
    const all = ['A', 'B', 'C', 'assume:a', 'assume:b', 'assume:c'];
    expect(expand(roles, ['assume:a'])).toEqual(all);
    expect(expand(roles, ['assume:c'])).toEqual(all);
  });

  it('terminates on a role assuming itself through a prefix', () => {
    expect(expand({ 'ab*': ['assume:abc', 'X'] }, ['assume:abd'])).toEqual(['X', 'assume:abc', 'assume:abd']);
  });

  it('throws RoleExpansionError instead of looping on a parameterized cycle that grows scopes', () => {
    const grow = new RoleResolver([{ roleId: 'a*', scopes: ['assume:ab<..>'] }], { maxInputLength: 200 });
    expect(() => grow.expand(['assume:ax'])).toThrow(RoleExpansionError);
    const branch = new RoleResolver([{ roleId: 'a*', scopes: ['assume:ab<..>', 'assume:ac<..>'] }], {
      maxInputs: 1000,
    });
    expect(() => branch.expand(['assume:ax'])).toThrow(RoleExpansionError);
  });

  it('merges the scopes of duplicate role ids', () => {
    const resolver = new RoleResolver([
      { roleId: 'a', scopes: ['A'] },
      { roleId: 'a', scopes: ['B'] },
    ]);
    expect(resolver.roleCount).toBe(1);
    expect(resolver.expand(['assume:a'])).toEqual(['A', 'B', 'assume:a']);
  });

  it('does not modify its input and returns arrays callers may modify', () => {
    const resolver = new RoleResolver(toRoles({ a: ['A'] }));
    const held = ['assume:a', 'x'];
    const first = resolver.expand(held);
    first.push('tampered');
    expect(held).toEqual(['assume:a', 'x']);
    expect(resolver.expand(held)).toEqual(['A', 'assume:a', 'x']);
    const onlyAssume = resolver.expand(['assume:a']);
    onlyAssume.push('tampered');
    expect(resolver.expand(['assume:a'])).toEqual(['A', 'assume:a']);
  });

  it('gives the same answers with caching disabled and when answered from the cache', () => {
    const roles = toRoles({ a: ['assume:b*', 'A'], bb: ['B'], 'c*': ['C<..>'] });
    const cached = new RoleResolver(roles);
    const uncached = new RoleResolver(roles, { cacheSize: 0, closureCacheSize: 0 });
    const inputs = [['assume:a'], ['assume:a', 'z'], ['assume:cq', 'assume:a'], ['assume:*'], ['q']];
    for (let round = 0; round < 2; round++) {
      for (const held of inputs) {
        expect(cached.expand(held)).toEqual(uncached.expand(held));
      }
    }
  });

  it('keeps cache entries for different inputs apart even when scopes contain newlines', () => {
    const resolver = new RoleResolver(toRoles({ a: ['A'], b: ['B'], 'a\nassume:b': ['AB'] }));
    expect(resolver.expand(['assume:a', 'assume:b'])).toEqual(['A', 'B', 'assume:a', 'assume:b']);
    expect(resolver.expand(['assume:a\nassume:b'])).toEqual(['AB', 'assume:a\nassume:b']);
  });

  it('expands a chain of 500 roles to every role on the chain', () => {
    const n = 500;
    const roles: Role[] = Array.from({ length: n }, (_, i) => ({
      roleId: `ch-${i}`,
      scopes: [`assume:ch-${i + 1}`],
    }));
    roles.push({ roleId: `ch-${n}`, scopes: ['special-scope'] });
    const expected = Array.from({ length: n + 1 }, (_, i) => `assume:ch-${i}`).concat(['special-scope']);
    expect(new RoleResolver(roles).expand(['assume:ch-0'])).toEqual(normalizeScopeSet(expected));
  });

  it('expands a tree of roles to every role in the tree', () => {
    const roles: Role[] = [];
    const grow = (id: string, depth: number) => {
      const children = [1, 2].map((w) => `${id}-${w}`);
      if (depth < 3) {
        for (const child of children) {
          grow(child, depth + 1);
        }
      }
      roles.push({ roleId: id, scopes: children.map((c) => `assume:${c}`) });
    };
    grow('t', 0);
    const expected = ['assume:t', ...roles.flatMap((r) => r.scopes)];
    expect(new RoleResolver(roles).expand(['assume:t'])).toEqual(normalizeScopeSet(expected));
  });
});

describe('expansion through scopes gained from a pattern that does not cover them', () => {
  // Found by the property tests: `assume:**` reaches role `*a`, which grants `as*`; `as*`
  // reaches every role, though `assume:**` itself does not reach `a`.
  it('follows a gained scope that reaches more roles than the held pattern', () => {
    const resolver = new RoleResolver([
      { roleId: 'a', scopes: ['*'] },
      { roleId: '*a', scopes: ['as*'] },
    ]);
    expect(resolver.expand(['assume:**'])).toEqual(['*']);
  });

  it('is idempotent when a role grants assume:* through a literal roleId starting with *', () => {
    const resolver = new RoleResolver([
      { roleId: '*a', scopes: ['assume:*'] },
      { roleId: 'a', scopes: ['x'] },
    ]);
    const once = resolver.expand(['assume:**']);
    expect(once).toEqual(['assume:*', 'x']);
    expect(resolver.expand(once)).toEqual(once);
  });
});
