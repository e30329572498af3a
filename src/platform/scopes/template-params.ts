// biome-ignore-all lint/suspicious/noThenProperty: `then` is a branch of {if, then, else} templates, not a thenable
import { PLACEHOLDER, ScopeTemplateError, type TemplateParams } from './template.ts';
import type { ScopeExpressionTemplate } from './types.ts';

/** What a template needs of a parameter: a string (or number), an array of those, or a boolean. */
export type TemplateParamType = 'string' | 'array' | 'boolean';

type ParamTypes = Map<string, TemplateParamType>;

function add(into: ParamTypes, name: string, type: TemplateParamType): void {
  const existing = into.get(name);
  if (existing !== undefined && existing !== type) {
    throw new ScopeTemplateError(
      `scope template parameter '${name}' is used both as ${existing} and as ${type}`,
      name,
    );
  }
  into.set(name, type);
}

function addAll(into: ParamTypes, from: ParamTypes): void {
  for (const [name, type] of from) {
    add(into, name, type);
  }
}

function collect(node: unknown): ParamTypes {
  const types: ParamTypes = new Map();
  if (typeof node === 'string') {
    for (const m of node.matchAll(PLACEHOLDER)) {
      add(types, m[1], 'string');
    }
    return types;
  }
  if (typeof node !== 'object' || node === null) {
    throw new ScopeTemplateError(`invalid scope template node: ${JSON.stringify(node)}`);
  }
  const n = node as Record<string, unknown>;
  if (Array.isArray(n.AllOf) || Array.isArray(n.AnyOf)) {
    for (const item of (n.AllOf ?? n.AnyOf) as unknown[]) {
      addAll(types, collect(item));
    }
    return types;
  }
  if (typeof n.for === 'string' && typeof n.in === 'string') {
    // The loop variable is a string inside `each` and is bound by the loop, not by the caller.
    const inner = collect(n.each);
    add(inner, n.for, 'string');
    inner.delete(n.for);
    add(types, n.in, 'array');
    addAll(types, inner);
    return types;
  }
  if (typeof n.if === 'string') {
    add(types, n.if, 'boolean');
    addAll(types, collect(n.then));
    if (Object.hasOwn(n, 'else')) {
      addAll(types, collect(n.else));
    }
    return types;
  }
  throw new ScopeTemplateError(`invalid scope template node: ${JSON.stringify(node)}`);
}

/**
 * The parameters a template uses and the type each must have. Throws `ScopeTemplateError`
 * when one parameter is used with two types, which no parameters could ever satisfy.
 */
export function templateParameters(template: ScopeExpressionTemplate): Record<string, TemplateParamType> {
  return Object.fromEntries(collect(template));
}

const isScalar = (v: unknown) => typeof v === 'string' || typeof v === 'number';

/**
 * Do `params` supply every parameter the template may use, with the right type? When
 * true, rendering cannot fail for lack of parameters; API methods use this to check
 * scopes from URL parameters alone before their handler runs.
 */
export function paramsSuffice(template: ScopeExpressionTemplate, params: TemplateParams): boolean {
  return Object.entries(templateParameters(template)).every(([name, type]) => {
    const value = Object.hasOwn(params, name) ? params[name] : undefined;
    if (type === 'string') {
      return isScalar(value);
    }
    if (type === 'array') {
      return Array.isArray(value) && value.every(isScalar);
    }
    return typeof value === 'boolean';
  });
}
