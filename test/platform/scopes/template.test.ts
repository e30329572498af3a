// biome-ignore-all lint/suspicious/noThenProperty: `then` is a branch of {if, then, else} templates
import { describe, expect, it } from 'vitest';
import {
  renderExpression,
  type ScopeExpressionTemplate,
  ScopeTemplateError,
  tryRenderExpression,
} from '../../../src/platform/scopes/index.ts';

const errorOf = (fn: () => unknown): ScopeTemplateError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScopeTemplateError) {
      return err;
    }
    throw err;
  }
  throw new Error('expected a ScopeTemplateError');
};

describe('renderExpression', () => {
  it('substitutes string and number parameters into scopes', () => {
    expect(renderExpression('queue:create-task:<prov>/<type>', { prov: 'aws', type: 'b-1' })).toBe(
      'queue:create-task:aws/b-1',
    );
    expect(renderExpression('queue:rerun-task:<runId>', { runId: 3 })).toBe('queue:rerun-task:3');
    expect(renderExpression('a:<x><x>', { x: 'y' })).toBe('a:yy');
  });

  it('leaves strings without parameters, and role parameters like <..>, untouched', () => {
    expect(renderExpression('plain', {})).toBe('plain');
    expect(renderExpression('a<..>b<1x>c<>', {})).toBe('a<..>b<1x>c<>');
  });

  it('renders AllOf and AnyOf recursively', () => {
    const template: ScopeExpressionTemplate = { AllOf: ['a:<x>', { AnyOf: ['b:<x>', 'c'] }] };
    expect(renderExpression(template, { x: '1' })).toEqual({ AllOf: ['a:1', { AnyOf: ['b:1', 'c'] }] });
  });

  it('expands a loop into the enclosing AllOf or AnyOf', () => {
    const template: ScopeExpressionTemplate = {
      AllOf: ['queue:create-task', { for: 'route', in: 'routes', each: 'queue:route:<route>' }, 'z'],
    };
    expect(renderExpression(template, { routes: ['a', 'b'] })).toEqual({
      AllOf: ['queue:create-task', 'queue:route:a', 'queue:route:b', 'z'],
    });
    expect(renderExpression(template, { routes: [] })).toEqual({ AllOf: ['queue:create-task', 'z'] });
    expect(
      renderExpression(
        { AnyOf: [{ for: 's', in: 'xs', each: '<prefix>:<s>' }] },
        { xs: [1, 'q'], prefix: 'p' },
      ),
    ).toEqual({ AnyOf: ['p:1', 'p:q'] });
  });

  it('lets the loop variable shadow a parameter of the same name only inside the loop', () => {
    const template: ScopeExpressionTemplate = { AllOf: ['<x>', { for: 'x', in: 'xs', each: 'in:<x>' }] };
    expect(renderExpression(template, { x: 'outer', xs: ['inner'] })).toEqual({
      AllOf: ['outer', 'in:inner'],
    });
  });

  it('picks the branch of a conditional on a boolean parameter', () => {
    const template: ScopeExpressionTemplate = { if: 'private', then: 'secrets:get:<name>', else: 'public' };
    expect(renderExpression(template, { private: true, name: 'n' })).toBe('secrets:get:n');
    expect(renderExpression(template, { private: false })).toBe('public');
  });

  it('drops a false conditional without else from an AllOf or AnyOf', () => {
    const template: ScopeExpressionTemplate = { AllOf: ['a', { if: 'extra', then: 'b' }] };
    expect(renderExpression(template, { extra: false })).toEqual({ AllOf: ['a'] });
    expect(renderExpression(template, { extra: true })).toEqual({ AllOf: ['a', 'b'] });
  });

  it('renders a dropped root conditional as null, meaning no scopes are required', () => {
    expect(renderExpression({ if: 'needsAuth', then: 'x' }, { needsAuth: false })).toBeNull();
  });

  it('renders nested conditionals', () => {
    const template: ScopeExpressionTemplate = { if: 'a', then: { if: 'b', then: 'ab', else: 'a' } };
    expect(renderExpression(template, { a: true, b: false })).toBe('a');
    expect(renderExpression(template, { a: false })).toBeNull();
  });

  it('names a missing string parameter', () => {
    const err = errorOf(() => renderExpression({ AllOf: ['a:<taskId>'] }, {}));
    expect(err.param).toBe('taskId');
    expect(err.message).toContain("'taskId'");
    expect(err.message).toContain('missing');
  });

  it('rejects string parameters of other types', () => {
    for (const value of [true, null, ['a'], { a: 1 }]) {
      const err = errorOf(() => renderExpression('a:<x>', { x: value }));
      expect(err.param).toBe('x');
      expect(err.message).toContain('string or number');
    }
  });

  it('does not take parameters from the prototype chain', () => {
    expect(errorOf(() => renderExpression('a:<toString>', {})).param).toBe('toString');
  });

  it('names a missing or non-array loop parameter', () => {
    const template: ScopeExpressionTemplate = { AllOf: [{ for: 'r', in: 'routes', each: '<r>' }] };
    const missing = errorOf(() => renderExpression(template, {}));
    expect(missing.param).toBe('routes');
    expect(missing.message).toContain('missing');
    const notArray = errorOf(() => renderExpression(template, { routes: 'a' }));
    expect(notArray.param).toBe('routes');
    expect(notArray.message).toContain('array');
  });

  it('rejects loop elements that are not strings or numbers', () => {
    const template: ScopeExpressionTemplate = { AllOf: [{ for: 'r', in: 'routes', each: 'x:<r>' }] };
    expect(errorOf(() => renderExpression(template, { routes: [{}] })).param).toBe('r');
  });

  it('names a missing or non-boolean condition', () => {
    const template: ScopeExpressionTemplate = { if: 'flag', then: 'a' };
    expect(errorOf(() => renderExpression(template, {})).param).toBe('flag');
    const notBoolean = errorOf(() => renderExpression(template, { flag: 'true' }));
    expect(notBoolean.param).toBe('flag');
    expect(notBoolean.message).toContain('boolean');
  });

  it('rejects a loop where a standalone expression is needed', () => {
    const loop = { for: 'x', in: 'xs', each: 'a' } as unknown as ScopeExpressionTemplate;
    expect(() => renderExpression(loop, { xs: [] })).toThrow(ScopeTemplateError);
    expect(() => renderExpression({ if: 'c', then: loop }, { c: true, xs: [] })).toThrow(ScopeTemplateError);
  });

  it('rejects malformed nodes', () => {
    expect(() => renderExpression({ Nope: [] } as unknown as ScopeExpressionTemplate, {})).toThrow(
      ScopeTemplateError,
    );
    expect(() => renderExpression({ AllOf: [7] } as unknown as ScopeExpressionTemplate, {})).toThrow(
      ScopeTemplateError,
    );
  });
});

describe('tryRenderExpression', () => {
  const cases: Array<[ScopeExpressionTemplate, Record<string, unknown>]> = [
    ['queue:create-task:<prov>/<type>', { prov: 'aws', type: 'b-1' }],
    ['queue:create-task:<prov>/<type>', { prov: 'aws' }],
    ['queue:rerun-task:<runId>', { runId: [3] }],
    [{ AllOf: ['a:<x>', { for: 'r', in: 'routes', each: 'route:<r>' }] }, { x: 'y', routes: ['p', 'q'] }],
    [{ AllOf: ['a:<x>', { for: 'r', in: 'routes', each: 'route:<r>' }] }, { x: 'y' }],
    [{ AllOf: [{ for: 'r', in: 'routes', each: 'route:<r>' }] }, { routes: ['p', {}] }],
    [{ AnyOf: [{ if: 'flag', then: 'a:b' }, 'c:d'] }, { flag: false }],
    [{ if: 'flag', then: 'a:b' }, { flag: false }],
    [{ if: 'flag', then: 'a:b' }, {}],
    [{ if: 'flag', then: 'a:b', else: 'c:<d>' }, { flag: false }],
    [{ for: 'x', in: 'xs', each: 'a' } as unknown as ScopeExpressionTemplate, { xs: [] }],
    [{ AllOf: [7] } as unknown as ScopeExpressionTemplate, {}],
  ];

  it('renders what renderExpression renders, and gives undefined where it throws', () => {
    let failures = 0;
    for (const [template, params] of cases) {
      let expected: unknown;
      try {
        expected = renderExpression(template, params);
      } catch (err) {
        expect(err).toBeInstanceOf(ScopeTemplateError);
        expected = undefined;
        failures++;
      }
      expect(tryRenderExpression(template, params)).toEqual(expected);
    }
    expect(failures).toBe(8);
  });

  it('gives null for a dropped clause, not undefined', () => {
    expect(tryRenderExpression({ if: 'flag', then: 'a:b' }, { flag: false })).toBeNull();
  });
});
