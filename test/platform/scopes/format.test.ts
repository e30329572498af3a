import { describe, expect, it } from 'vitest';
import { expressionToString, formatExpression } from '../../../src/platform/scopes/index.ts';

describe('expressionToString', () => {
  it('prints a scope as itself', () => {
    expect(expressionToString('queue:create-task:x')).toBe('queue:create-task:x');
  });

  it('prints nested AllOf and AnyOf on one line', () => {
    expect(expressionToString({ AllOf: ['a', { AnyOf: ['b', 'c'] }] })).toBe('AllOf: [a, AnyOf: [b, c]]');
  });

  it('prints empty combinations as empty lists', () => {
    expect(expressionToString({ AnyOf: [] })).toBe('AnyOf: []');
    expect(expressionToString({ AllOf: [] })).toBe('AllOf: []');
  });
});

describe('formatExpression', () => {
  it('prints one scope per line, indented by nesting', () => {
    expect(formatExpression({ AllOf: ['queue:create-task:x', { AnyOf: ['a', 'b'] }, 'z'] })).toBe(
      ['AllOf:', '  - queue:create-task:x', '  - AnyOf:', '    - a', '    - b', '  - z'].join('\n'),
    );
  });

  it('prints scopes and empty combinations on a single line', () => {
    expect(formatExpression('a')).toBe('a');
    expect(formatExpression({ AnyOf: [] })).toBe('AnyOf: []');
    expect(formatExpression({ AllOf: [{ AnyOf: [] }] })).toBe('AllOf:\n  - AnyOf: []');
  });
});
