import { ScopeTemplateError } from './template.ts';
import { templateParameters } from './template-params.ts';
import type { ScopeExpression, ScopeExpressionTemplate } from './types.ts';

/**
 * A scope is any string of printable ASCII, space included. Excluding every other
 * character keeps scopes unambiguous in logs, headers and newline-separated cache keys.
 */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Names usable as `<param>` placeholders, loop variables and conditions in templates. */
const PARAM_NAME = /^[a-zA-Z][a-zA-Z0-9_]*$/;

export function isValidScope(s: unknown): s is string {
  return typeof s === 'string' && PRINTABLE_ASCII.test(s);
}

export function validScopeSet(scopes: unknown): scopes is string[] {
  return Array.isArray(scopes) && scopes.every(isValidScope);
}

export function isParamName(name: unknown): name is string {
  return typeof name === 'string' && PARAM_NAME.test(name);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when `obj` has exactly the keys in `required` plus possibly those in `optional`. */
const hasExactKeys = (obj: Record<string, unknown>, required: string[], optional: string[] = []): boolean => {
  const keys = Object.keys(obj);
  return (
    required.every((k) => Object.hasOwn(obj, k)) &&
    keys.every((k) => required.includes(k) || optional.includes(k))
  );
};

/**
 * Check the structure of a scope expression. Returns null when valid, otherwise a message
 * locating the first problem (`expression.AllOf[1]: ...`).
 */
export function validateExpression(expr: unknown, path = 'expression'): string | null {
  if (typeof expr === 'string') {
    return isValidScope(expr) ? null : `${path}: scope contains characters outside printable ASCII`;
  }
  if (!isPlainObject(expr)) {
    return `${path}: expected a scope string or an object with a single key AllOf or AnyOf`;
  }
  const keys = Object.keys(expr);
  if (keys.length !== 1 || (keys[0] !== 'AllOf' && keys[0] !== 'AnyOf')) {
    return `${path}: expected an object with a single key AllOf or AnyOf, got keys [${keys.join(', ')}]`;
  }
  const key = keys[0];
  const items = expr[key];
  if (!Array.isArray(items)) {
    return `${path}.${key}: expected an array`;
  }
  for (let i = 0; i < items.length; i++) {
    const err = validateExpression(items[i], `${path}.${key}[${i}]`);
    if (err !== null) {
      return err;
    }
  }
  return null;
}

export function isScopeExpression(expr: unknown): expr is ScopeExpression {
  return validateExpression(expr) === null;
}

/**
 * Check a scope expression template. Returns null when valid, otherwise a message locating
 * the first problem. Literal text in template strings must be printable ASCII so that
 * rendering with printable parameters always yields valid scopes, and no parameter may be
 * used with two types (say as a string and as a loop's array), which nothing could render.
 */
export function validateExpressionTemplate(template: unknown, path = 'template'): string | null {
  const structural = validateTemplateNode(template, path, true);
  if (structural !== null) {
    return structural;
  }
  try {
    templateParameters(template as ScopeExpressionTemplate);
    return null;
  } catch (err) {
    if (err instanceof ScopeTemplateError) {
      return `${path}: ${err.message}`;
    }
    throw err;
  }
}

export function isScopeExpressionTemplate(template: unknown): template is ScopeExpressionTemplate {
  return validateExpressionTemplate(template) === null;
}

function validateTemplateNode(node: unknown, path: string, standalone: boolean): string | null {
  if (typeof node === 'string') {
    return isValidScope(node) ? null : `${path}: template contains characters outside printable ASCII`;
  }
  if (!isPlainObject(node)) {
    return `${path}: expected a string, {AllOf}, {AnyOf}, {if, then, else?} or {for, in, each}`;
  }
  if (hasExactKeys(node, ['AllOf']) || hasExactKeys(node, ['AnyOf'])) {
    const key = Object.hasOwn(node, 'AllOf') ? 'AllOf' : 'AnyOf';
    const items = node[key];
    if (!Array.isArray(items)) {
      return `${path}.${key}: expected an array`;
    }
    for (let i = 0; i < items.length; i++) {
      const err = validateTemplateNode(items[i], `${path}.${key}[${i}]`, false);
      if (err !== null) {
        return err;
      }
    }
    return null;
  }
  if (hasExactKeys(node, ['for', 'in', 'each'])) {
    if (standalone) {
      return `${path}: a {for, in, each} loop is only allowed inside AllOf or AnyOf`;
    }
    if (!isParamName(node.for)) {
      return `${path}.for: expected a parameter name`;
    }
    if (!isParamName(node.in)) {
      return `${path}.in: expected a parameter name`;
    }
    if (typeof node.each !== 'string') {
      return `${path}.each: expected a string`;
    }
    return validateTemplateNode(node.each, `${path}.each`, false);
  }
  if (hasExactKeys(node, ['if', 'then'], ['else'])) {
    if (!isParamName(node.if)) {
      return `${path}.if: expected a parameter name`;
    }
    const err = validateTemplateNode(node.then, `${path}.then`, true);
    if (err !== null || !Object.hasOwn(node, 'else')) {
      return err;
    }
    return validateTemplateNode(node.else, `${path}.else`, true);
  }
  return `${path}: unrecognized template keys [${Object.keys(node).join(', ')}]`;
}
