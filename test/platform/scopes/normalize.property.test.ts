import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  mergeScopeSets,
  normalizedSetSatisfies,
  normalizeScopeSet,
  patternMatch,
  removeGivenScopes,
  type ScopeExpression,
  satisfiesExpression,
  scopeCompare,
  scopeIntersection,
  scopeMatch,
  scopesSatisfying,
  scopeUnion,
} from '../../../src/platform/scopes/index.ts';

// A tiny alphabet makes prefixes, stars and duplicates collide often. '(' sorts below '*'.
const scope = fc.string({ unit: fc.constantFrom('a', 'b', '*', ':', '('), maxLength: 4 });
const scopeSet = fc.array(scope, { maxLength: 8 });
const runs = { numRuns: 500 };

const expression: fc.Arbitrary<ScopeExpression> = fc.letrec<{ expr: ScopeExpression }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scope,
    fc.array(tie('expr'), { maxLength: 3 }).map((AllOf) => ({ AllOf })),
    fc.array(tie('expr'), { maxLength: 3 }).map((AnyOf) => ({ AnyOf })),
  ),
})).expr;

const isNormalForm = (set: string[]) =>
  set.every((s, i) => i === 0 || scopeCompare(set[i - 1], s) < 0) &&
  set.every((s, i) => set.every((t, j) => i === j || !patternMatch(t, s)));

describe('scope ordering laws', () => {
  it('scopeCompare is antisymmetric and zero only for equal scopes', () => {
    fc.assert(
      fc.property(scope, scope, (a, b) => {
        expect(Math.sign(scopeCompare(a, b)) + Math.sign(scopeCompare(b, a))).toBe(0);
        expect(scopeCompare(a, b) === 0).toBe(a === b);
      }),
      runs,
    );
  });

  it('scopeCompare is transitive', () => {
    fc.assert(
      fc.property(scope, scope, scope, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(scopeCompare);
        expect(scopeCompare(x, z)).toBeLessThanOrEqual(0);
        expect(scopeCompare(x, y)).toBeLessThanOrEqual(0);
        expect(scopeCompare(y, z)).toBeLessThanOrEqual(0);
      }),
      runs,
    );
  });
});

describe('normalization laws', () => {
  it('normalizeScopeSet is idempotent', () => {
    fc.assert(
      fc.property(scopeSet, (s) => {
        const n = normalizeScopeSet(s);
        expect(normalizeScopeSet(n)).toEqual(n);
      }),
      runs,
    );
  });

  it('normalizeScopeSet yields a sorted set in which no scope satisfies another', () => {
    fc.assert(
      fc.property(scopeSet, (s) => {
        expect(isNormalForm(normalizeScopeSet(s))).toBe(true);
      }),
      runs,
    );
  });

  it('normalizeScopeSet preserves which scopes are satisfied', () => {
    fc.assert(
      fc.property(scopeSet, scope, (s, extra) => {
        const n = normalizeScopeSet(s);
        for (const required of [extra, ...s].flatMap((x) => [x, x.replace(/\*$/, ''), `${x}*`])) {
          expect([required, scopeMatch(n, required)]).toEqual([required, scopeMatch(s, required)]);
        }
      }),
      runs,
    );
  });

  it('normalizeScopeSet does not depend on the order of its input', () => {
    fc.assert(
      fc.property(
        scopeSet.chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray(s, { minLength: s.length }))),
        ([s, shuffled]) => {
          expect(normalizeScopeSet(shuffled)).toEqual(normalizeScopeSet(s));
        },
      ),
      runs,
    );
  });

  it('normalizedSetSatisfies agrees with scopeMatch on normalized sets', () => {
    fc.assert(
      fc.property(scopeSet, scope, (s, required) => {
        const n = normalizeScopeSet(s);
        expect(normalizedSetSatisfies(n, required)).toBe(scopeMatch(n, required));
      }),
      runs,
    );
  });
});

describe('set operation laws', () => {
  it('mergeScopeSets satisfies exactly what either input satisfies', () => {
    fc.assert(
      fc.property(scopeSet, scopeSet, scope, (a, b, required) => {
        const merged = mergeScopeSets(normalizeScopeSet(a), normalizeScopeSet(b));
        expect(scopeMatch(merged, required)).toBe(scopeMatch([...a, ...b], required));
      }),
      runs,
    );
  });

  it('mergeScopeSets of normalized sets is the normal form of their union', () => {
    fc.assert(
      fc.property(scopeSet, scopeSet, (a, b) => {
        const merged = mergeScopeSets(normalizeScopeSet(a), normalizeScopeSet(b));
        expect(merged).toEqual(normalizeScopeSet([...a, ...b]));
        expect(scopeUnion(a, b)).toEqual(merged);
      }),
      runs,
    );
  });

  it('scopeIntersection is commutative and normalized', () => {
    fc.assert(
      fc.property(scopeSet, scopeSet, (a, b) => {
        const ab = scopeIntersection(a, b);
        expect(scopeIntersection(b, a)).toEqual(ab);
        expect(isNormalForm(ab)).toBe(true);
      }),
      runs,
    );
  });

  it('scopeIntersection satisfies exactly the scopes both inputs satisfy', () => {
    fc.assert(
      fc.property(scopeSet, scopeSet, scope, (a, b, extra) => {
        const both = scopeIntersection(a, b);
        // The inputs' own scopes, with and without their trailing star, are the boundary cases.
        const probes = [extra, ...a, ...b].flatMap((s) => [s, s.replace(/\*$/, ''), `${s}*`]);
        for (const required of probes) {
          expect([required, scopeMatch(both, required)]).toEqual([
            required,
            scopeMatch(a, required) && scopeMatch(b, required),
          ]);
        }
      }),
      runs,
    );
  });
});

describe('expression laws', () => {
  it('normalizing the held scopes does not change satisfaction', () => {
    fc.assert(
      fc.property(scopeSet, expression, (s, e) => {
        expect(satisfiesExpression(normalizeScopeSet(s), e)).toBe(satisfiesExpression(s, e));
      }),
      runs,
    );
  });

  it('removeGivenScopes is null exactly when the expression is satisfied', () => {
    fc.assert(
      fc.property(scopeSet, expression, (s, e) => {
        expect(removeGivenScopes(s, e) === null).toBe(satisfiesExpression(s, e));
      }),
      runs,
    );
  });

  it('what removeGivenScopes reports missing is not satisfied, and adding it satisfies the expression', () => {
    fc.assert(
      fc.property(scopeSet, expression, (s, e) => {
        const missing = removeGivenScopes(s, e);
        if (missing !== null) {
          expect(satisfiesExpression(s, missing)).toBe(false);
          // The leaves of `missing` that `*` uses to satisfy it are one way of supplying it.
          const witness = scopesSatisfying(['*'], missing);
          if (witness !== null) {
            expect(satisfiesExpression([...s, ...witness], e)).toBe(true);
          }
        }
      }),
      runs,
    );
  });

  it('scopesSatisfying returns a satisfying set exactly when the expression is satisfied', () => {
    fc.assert(
      fc.property(scopeSet, expression, (s, e) => {
        const used = scopesSatisfying(s, e);
        expect(used !== null).toBe(satisfiesExpression(s, e));
        if (used !== null) {
          expect(satisfiesExpression(used, e)).toBe(true);
          expect(used.every((u) => scopeMatch(s, u))).toBe(true);
        }
      }),
      runs,
    );
  });
});
