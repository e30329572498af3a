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
    // "Expected union value" says nothing useful: report why the closest alternative failed.
    const lines = Array.isArray(err.schema.anyOf)
      ? closestAlternative(err.schema.anyOf as TSchema[], err.value, field)
      : [`${field}: ${friendly(err.message)}`];
    for (const line of lines) {
      if (!seen.has(line)) {
        seen.add(line);
        problems.push(line);
      }
    }
    if (problems.length >= 10) break;
  }
  return problems.slice(0, 10);
}

function friendly(message: string): string {
  if (message.startsWith('Expected required property')) return 'is required';
  if (message === 'Unexpected property') return 'is not an allowed property';
  return message;
}

/**
 * The problems of the alternative that fits best: the one a constant field (like
 * `storageType: 's3'`) selects, else the one with the fewest problems.
 */
function closestAlternative(alternatives: TSchema[], value: unknown, where: string): string[] {
  let best: string[] | undefined;
  for (const alt of alternatives) {
    const problems = validationProblems(alt, value, where);
    if (problems.length === 0) return [];
    const selects = value && typeof value === 'object' && selectedBy(alt, value as Record<string, unknown>);
    if (selects) return problems;
    if (!best || problems.length < best.length) best = problems;
  }
  return best ?? [`${where}: matches none of the allowed forms`];
}

function selectedBy(alt: TSchema, value: Record<string, unknown>): boolean {
  const props = alt.properties as Record<string, TSchema> | undefined;
  if (!props) return false;
  return Object.entries(props).some(([k, p]) => p.const !== undefined && value[k] === p.const);
}

/** Query strings arrive as text: coerce numbers and booleans the schema asks for, then check. */
export function coerceQuery(schema: TSchema, query: Record<string, unknown>): unknown {
  return Value.Convert(schema, { ...query });
}
