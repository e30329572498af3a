import { describe, expect, it } from 'vitest';
import {
  removeGivenScopes,
  type ScopeExpression,
  satisfiesExpression,
  scopeIntersection,
  scopesSatisfying,
} from '../../../src/platform/scopes/index.ts';

const unsatisfied: Array<[string[], ScopeExpression]> = [
  [[], { AnyOf: [] }],
  [[], 'missing-scope'],
  [['wrong-scope'], 'missing-scope'],
  [['ghi'], { AnyOf: ['abc', 'def'] }],
  [['ghi*'], { AnyOf: ['abc', 'def'] }],
  [['ghi', 'fff'], { AnyOf: ['abc', 'def'] }],
  [['ghi*', 'fff*'], { AnyOf: ['abc', 'def'] }],
  [['abc'], { AnyOf: ['ghi'] }],
  [['abc*'], { AllOf: ['abc', 'ghi'] }],
  [[''], { AnyOf: ['abc', 'def'] }],
  [['abc:def'], { AnyOf: ['abc', 'def'] }],
  [['xyz', 'abc'], { AllOf: [{ AnyOf: [{ AllOf: ['foo'] }, { AllOf: ['bar'] }] }] }],
  [['a*', 'b*', 'c*'], { AllOf: ['bx', 'cx', { AnyOf: ['xxx', 'yyyy'] }] }],
];

/** [held scopes, expression, the required scopes used to satisfy it] */
const satisfied: Array<[string[], ScopeExpression, string[]]> = [
  [[], { AllOf: [] }, []],
  [['A'], { AllOf: ['A'] }, ['A']],
  [['A', 'B'], 'A', ['A']],
  [['a*', 'b*', 'c*'], 'abc', ['abc']],
  [['abc'], { AnyOf: ['abc', 'def'] }, ['abc']],
  [['def'], { AnyOf: ['abc', 'def'] }, ['def']],
  [['abc', 'def'], { AnyOf: ['abc', 'def'] }, ['abc', 'def']],
  [['abc*'], { AnyOf: ['abc', 'def'] }, ['abc']],
  [['abc*'], { AnyOf: ['abc'] }, ['abc']],
  [['abc*', 'def*'], { AnyOf: ['abc', 'def'] }, ['abc', 'def']],
  [['foo'], { AllOf: [{ AnyOf: [{ AllOf: ['foo'] }, { AllOf: ['bar'] }] }] }, ['foo']],
  [['a*', 'b*', 'c*'], { AnyOf: ['cfoo', 'dfoo'] }, ['cfoo']],
  [['a*', 'b*', 'c*'], { AnyOf: ['bx', 'by'] }, ['bx', 'by']],
  [['a*', 'b*', 'c*'], { AllOf: ['bx', 'cx'] }, ['bx', 'cx']],
  [
    ['a*', 'b*', 'c*'],
    { AnyOf: [{ AllOf: ['ax', 'jx'] }, { AllOf: ['bx', 'cx'] }, 'bbb'] },
    ['bbb', 'bx', 'cx'],
  ],
];

describe('satisfiesExpression', () => {
  for (const [held, expr] of unsatisfied) {
    it(`is not satisfied: ${JSON.stringify(expr)} by ${JSON.stringify(held)}`, () => {
      expect(satisfiesExpression(held, expr)).toBe(false);
    });
  }

  for (const [held, expr] of satisfied) {
    it(`is satisfied: ${JSON.stringify(expr)} by ${JSON.stringify(held)}`, () => {
      expect(satisfiesExpression(held, expr)).toBe(true);
    });
  }

  it('fails closed on a malformed expression', () => {
    expect(satisfiesExpression(['*'], { Nope: ['a'] } as unknown as ScopeExpression)).toBe(false);
  });
});

describe('scopesSatisfying', () => {
  for (const [held, expr] of unsatisfied) {
    it(`finds nothing when ${JSON.stringify(expr)} is not satisfied by ${JSON.stringify(held)}`, () => {
      expect(scopesSatisfying(held, expr)).toBeNull();
    });
  }

  for (const [held, expr, used] of satisfied) {
    it(`finds ${JSON.stringify(used)} satisfying ${JSON.stringify(expr)} from ${JSON.stringify(held)}`, () => {
      const found = scopesSatisfying(held, expr);
      expect(found).toEqual(used);
      const scopes = found ?? [];
      expect(satisfiesExpression(scopes, expr)).toBe(true);
      expect(scopeIntersection(held, scopes)).toEqual(scopes);
    });
  }
});

describe('removeGivenScopes', () => {
  const cases: Array<[string[], ScopeExpression, ScopeExpression | null]> = [
    [[], { AllOf: [] }, null],
    [['a'], { AllOf: ['a'] }, null],
    [['a'], { AllOf: ['a', 'b'] }, 'b'],
    [[], { AnyOf: [] }, { AnyOf: [] }],
    [['a'], { AnyOf: ['a', 'b'] }, null],
    [['c'], { AnyOf: ['a', 'b'] }, { AnyOf: ['a', 'b'] }],
    [['ghi'], { AnyOf: ['abc', 'def'] }, { AnyOf: ['abc', 'def'] }],
    [['ghi'], { AllOf: ['abc', 'def', 'ghi'] }, { AllOf: ['abc', 'def'] }],
    [['ghi*', 'fff*'], { AnyOf: ['abc', 'def'] }, { AnyOf: ['abc', 'def'] }],
    [
      ['xyz', 'abc'],
      { AllOf: [{ AnyOf: [{ AllOf: ['foo'] }, { AllOf: ['bar'] }] }] },
      { AnyOf: ['foo', 'bar'] },
    ],
    [['q*'], { AllOf: ['qa', { AnyOf: ['x', { AllOf: ['y', 'qz'] }] }] }, { AnyOf: ['x', 'y'] }],
  ];

  for (const [held, expr, missing] of cases) {
    it(`reports ${JSON.stringify(missing)} missing from ${JSON.stringify(held)} for ${JSON.stringify(expr)}`, () => {
      expect(removeGivenScopes(held, expr)).toEqual(missing);
    });
  }

  it('returns null exactly when the expression is satisfied', () => {
    for (const [held, expr] of [...unsatisfied, ...satisfied]) {
      expect(removeGivenScopes(held, expr) === null).toBe(satisfiesExpression(held, expr));
    }
  });

  it('throws on a malformed expression', () => {
    expect(() => removeGivenScopes([], { Nope: [] } as unknown as ScopeExpression)).toThrow(TypeError);
  });
});
