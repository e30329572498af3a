import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';

const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (v) => isoDateTime.test(v) && !Number.isNaN(Date.parse(v)));
}
if (!FormatRegistry.Has('uri')) {
  FormatRegistry.Set('uri', (v) => {
    try {
      new URL(v);
      return true;
    } catch {
      return false;
    }
  });
}
if (!FormatRegistry.Has('email')) {
  FormatRegistry.Set('email', (v) => /^[^\s@]+@[^\s@]+$/.test(v));
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor(schema: TSchema): TypeCheck<TSchema> {
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check;
}

/** Problems, one line each, naming the field (`where.path.to.field`), or [] when valid. */
export function validationProblems(schema: TSchema, value: unknown, where: string): string[] {
  const check = checkerFor(schema);
  if (check.Check(value)) return [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const err of check.Errors(value)) {
    const field = err.path ? where + err.path.replace(/\//g, '.') : where;
    let message = err.message;
    if (message.startsWith('Expected required property')) message = 'is required';
    if (message === 'Unexpected property') message = 'is not an allowed property';
    const line = `${field}: ${message}`;
    if (!seen.has(line)) {
      seen.add(line);
      problems.push(line);
    }
    if (problems.length >= 10) break;
  }
  return problems;
}

/** Query strings arrive as text: coerce numbers and booleans the schema asks for, then check. */
export function coerceQuery(schema: TSchema, query: Record<string, unknown>): unknown {
  return Value.Convert(schema, { ...query });
}
