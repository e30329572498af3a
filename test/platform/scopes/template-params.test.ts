// biome-ignore-all lint/suspicious/noThenProperty: `then` is a branch of {if, then, else} templates
import { describe, expect, it } from 'vitest';
import {
  paramsSuffice,
  type ScopeExpressionTemplate,
  ScopeTemplateError,
  templateParameters,
  validateExpressionTemplate,
} from '../../../src/platform/scopes/index.ts';

const createTask: ScopeExpressionTemplate = {
  AllOf: [
    'queue:create-task:<priority>:<taskQueueId>',
    { for: 'route', in: 'routes', each: 'queue:route:<route>' },
    { for: 'scope', in: 'scopes', each: '<scope>' },
    { if: 'hasScheduler', then: 'queue:scheduler-id:<schedulerId>' },
  ],
};

describe('templateParameters', () => {
  it('lists each parameter with the type it must have', () => {
    expect(templateParameters(createTask)).toEqual({
      priority: 'string',
      taskQueueId: 'string',
      routes: 'array',
      scopes: 'array',
      hasScheduler: 'boolean',
      schedulerId: 'string',
    });
  });

  it('does not list loop variables, which the loop binds', () => {
    expect(templateParameters({ AllOf: [{ for: 'r', in: 'rs', each: '<r>:<other>' }] })).toEqual({
      rs: 'array',
      other: 'string',
    });
  });

  it('lists nothing for a template without parameters', () => {
    expect(templateParameters({ AnyOf: ['a', 'b<..>'] })).toEqual({});
  });

  it('includes parameters of both branches of a conditional', () => {
    expect(templateParameters({ if: 'c', then: '<a>', else: '<b>' })).toEqual({
      c: 'boolean',
      a: 'string',
      b: 'string',
    });
  });

  it('rejects a parameter used with two types', () => {
    expect(() => templateParameters({ AllOf: ['<x>', { if: 'x', then: 'y' }] })).toThrow(ScopeTemplateError);
    expect(() => templateParameters({ AllOf: [{ for: 'r', in: 'rs', each: '<rs>' }] })).toThrow(/'rs'/);
  });

  it('makes validateExpressionTemplate reject a parameter used with two types', () => {
    expect(validateExpressionTemplate({ AllOf: ['<x>', { for: 'y', in: 'x', each: '<y>' }] })).toMatch(/'x'/);
  });
});

describe('paramsSuffice', () => {
  it('accepts parameters of the right types', () => {
    const params = {
      priority: 'high',
      taskQueueId: 3,
      routes: ['a'],
      scopes: [],
      hasScheduler: false,
      schedulerId: 's',
    };
    expect(paramsSuffice(createTask, params)).toBe(true);
  });

  it('rejects missing parameters, even ones a false conditional would not use', () => {
    const params = { priority: 'high', taskQueueId: 'q', routes: [], scopes: [], hasScheduler: false };
    expect(paramsSuffice(createTask, params)).toBe(false);
  });

  it('rejects parameters of the wrong type', () => {
    expect(paramsSuffice('a:<x>', { x: true })).toBe(false);
    expect(paramsSuffice({ AllOf: [{ for: 'r', in: 'rs', each: '<r>' }] }, { rs: [{}] })).toBe(false);
    expect(paramsSuffice({ AllOf: [{ for: 'r', in: 'rs', each: '<r>' }] }, { rs: 'a' })).toBe(false);
    expect(paramsSuffice({ if: 'c', then: 'a' }, { c: 'true' })).toBe(false);
  });

  it('is trivially true for templates without parameters', () => {
    expect(paramsSuffice('a', {})).toBe(true);
  });
});
