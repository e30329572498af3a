// biome-ignore-all lint/suspicious/noThenProperty: `then` is a branch of {if, then, else} templates
import { describe, expect, it } from 'vitest';
import {
  isParamName,
  isScopeExpression,
  isScopeExpressionTemplate,
  isValidScope,
  validateExpression,
  validateExpressionTemplate,
  validScopeSet,
} from '../../../src/platform/scopes/index.ts';

describe('isValidScope', () => {
  it('accepts ordinary, star, spaced and empty scopes', () => {
    for (const s of ['auth:credentials', 'queue:*', 'secrets:garbage:foo bar', '', '*', '~!<..>']) {
      expect([s, isValidScope(s)]).toEqual([s, true]);
    }
  });

  it('rejects newlines, NUL, DEL, tabs and non-ASCII characters', () => {
    for (const s of ['some:garbage\nauth:credentials', 'a\0b', 'a\x7fb', 'a\tb', 'halt:\u{1f6c7}', 'é']) {
      expect([s, isValidScope(s)]).toEqual([s, false]);
    }
  });

  it('rejects non-strings', () => {
    for (const v of [undefined, null, 1, ['a'], { a: 1 }]) {
      expect(isValidScope(v)).toBe(false);
    }
  });
});

describe('validScopeSet', () => {
  it('accepts arrays of valid scopes, including the empty array', () => {
    expect(validScopeSet([])).toBe(true);
    expect(validScopeSet(['a', 'b*'])).toBe(true);
  });

  it('rejects non-arrays and arrays with an invalid member', () => {
    expect(validScopeSet('a')).toBe(false);
    expect(validScopeSet(['a', 'b\n'])).toBe(false);
    expect(validScopeSet(['a', 3])).toBe(false);
  });
});

describe('validateExpression', () => {
  const valid = [
    'hello-world',
    'scope:foo',
    { AnyOf: [] },
    { AllOf: [] },
    { AnyOf: ['abc'] },
    { AllOf: ['abc'] },
    { AnyOf: [{ AnyOf: ['scope:foo:thing'] }] },
    { AllOf: [{ AllOf: ['scope:foo:thing', 'scope:bar:thing'] }] },
    { AnyOf: [{ AllOf: ['scope:foo:thing'] }] },
    { AllOf: [{ AnyOf: ['scope:foo:thing', 'scope:bar:thing'] }] },
    { AllOf: [{ AnyOf: [{ AllOf: ['foo'] }, { AllOf: ['bar'] }] }] },
  ];

  it('accepts scopes and nested AllOf / AnyOf objects', () => {
    for (const e of valid) {
      expect([e, validateExpression(e)]).toEqual([e, null]);
      expect(isScopeExpression(e)).toBe(true);
    }
  });

  const invalid: Array<[string, unknown]> = [
    ['an empty object', {}],
    ['an array', []],
    ['a number', 12],
    ['null', null],
    ['an unknown key', { Foo: ['abc'] }],
    ['two keys', { AnyOf: ['abc'], AllOf: ['abc'] }],
    ['a number value', { AnyOf: 1 }],
    ['a string value', { AnyOf: 'scope:bar' }],
    ['an object value', { AnyOf: {} }],
    ['an invalid nested scope', { AllOf: ['a', { AnyOf: ['b\n'] }] }],
  ];

  for (const [name, e] of invalid) {
    it(`rejects ${name}`, () => {
      expect(validateExpression(e)).toEqual(expect.any(String));
      expect(isScopeExpression(e)).toBe(false);
    });
  }

  it('locates the problem in its message', () => {
    expect(validateExpression({ AllOf: ['a', { AnyOf: ['b\n'] }] })).toMatch(
      /^expression\.AllOf\[1\]\.AnyOf\[0\]:/,
    );
  });
});

describe('validateExpressionTemplate', () => {
  const valid: unknown[] = [
    'queue:create-task:<provisionerId>/<workerType>',
    { AllOf: ['a', { for: 'route', in: 'routes', each: 'queue:route:<route>' }] },
    { AnyOf: [{ for: 'x', in: 'xs', each: 'static' }] },
    { if: 'private', then: 'secrets:get:<name>' },
    { if: 'private', then: { AllOf: ['a'] }, else: 'b' },
    { if: 'a', then: { if: 'b', then: 'c' } },
    { AllOf: [{ if: 'a', then: 'b' }] },
  ];

  it('accepts well-formed templates', () => {
    for (const t of valid) {
      expect([t, validateExpressionTemplate(t)]).toEqual([t, null]);
      expect(isScopeExpressionTemplate(t)).toBe(true);
    }
  });

  const invalid: Array<[string, unknown]> = [
    ['a loop at the root', { for: 'x', in: 'xs', each: 'a' }],
    ['a loop as a conditional branch', { if: 'c', then: { for: 'x', in: 'xs', each: 'a' } }],
    ['a loop whose each is not a string', { AllOf: [{ for: 'x', in: 'xs', each: { AllOf: [] } }] }],
    ['a loop variable that is not a name', { AllOf: [{ for: '1x', in: 'xs', each: 'a' }] }],
    ['a loop over something that is not a name', { AllOf: [{ for: 'x', in: 'x s', each: 'a' }] }],
    ['a condition that is not a name', { if: '', then: 'a' }],
    ['a conditional without then', { if: 'a', else: 'b' }],
    ['extra keys on a conditional', { if: 'a', then: 'b', other: 'c' }],
    ['an AllOf that is not an array', { AllOf: 'a' }],
    ['a non-printable literal', 'a\nb'],
    ['a number', 5],
  ];

  for (const [name, t] of invalid) {
    it(`rejects ${name}`, () => {
      expect(validateExpressionTemplate(t)).toEqual(expect.any(String));
      expect(isScopeExpressionTemplate(t)).toBe(false);
    });
  }
});

describe('isParamName', () => {
  it('accepts identifiers starting with a letter', () => {
    expect(['taskId', 'a', 'a_1', 'Z9'].every(isParamName)).toBe(true);
  });

  it('rejects anything else', () => {
    expect(['', '1a', '_a', 'a-b', 'a b', '..'].some(isParamName)).toBe(false);
    expect(isParamName(3)).toBe(false);
  });
});
