import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { validationProblems } from '../../../src/platform/api/validate.ts';

const Artifact = Type.Union([
  Type.Object(
    { storageType: Type.Literal('s3'), expires: Type.String(), contentType: Type.String() },
    { additionalProperties: false },
  ),
  Type.Object(
    { storageType: Type.Literal('reference'), url: Type.String() },
    { additionalProperties: false },
  ),
]);

describe('validation messages', () => {
  it('names the missing field of the alternative a constant field selects, not just "union"', () => {
    const problems = validationProblems(Artifact, { storageType: 's3', expires: 'x' }, 'body');
    expect(problems).toContain('body.contentType: is required');
    expect(problems.join('\n')).not.toMatch(/union/i);
  });

  it('names unknown properties and wrong types with their path', () => {
    const schema = Type.Object({ a: Type.Object({ b: Type.Integer() }) }, { additionalProperties: false });
    expect(validationProblems(schema, { a: { b: 'x' }, c: 1 }, 'body')).toEqual(
      expect.arrayContaining(['body.a.b: Expected integer', 'body.c: is not an allowed property']),
    );
    expect(validationProblems(schema, { a: { b: 1 } }, 'body')).toEqual([]);
  });
});
