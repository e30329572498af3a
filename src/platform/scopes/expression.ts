import { scopeMatch } from './match.ts';
import { normalizeScopeSet } from './normalize.ts';
import type { ScopeExpression } from './types.ts';

const isAllOf = (e: ScopeExpression): e is { AllOf: ScopeExpression[] } =>
  typeof e === 'object' && e !== null && Array.isArray((e as { AllOf?: unknown }).AllOf);

const isAnyOf = (e: ScopeExpression): e is { AnyOf: ScopeExpression[] } =>
  typeof e === 'object' && e !== null && Array.isArray((e as { AnyOf?: unknown }).AnyOf);

/**
 * Does the scope set satisfy the expression? `AllOf: []` is always satisfied and
 * `AnyOf: []` never is. A malformed expression is treated as unsatisfied, so a bad
 * declaration fails closed rather than granting access. No `assume:` expansion happens
 * here; pass expanded scopes.
 */
export function satisfiesExpression(scopes: readonly string[], expr: ScopeExpression): boolean {
  if (typeof expr === 'string') {
    return scopeMatch(scopes, expr);
  }
  if (isAllOf(expr)) {
    return expr.AllOf.every((e) => satisfiesExpression(scopes, e));
  }
  if (isAnyOf(expr)) {
    return expr.AnyOf.some((e) => satisfiesExpression(scopes, e));
  }
  return false;
}

/**
 * What is still missing: the expression with every satisfied part removed, or null when
 * the whole expression is satisfied. Scopes left under `AllOf` are all needed; at least
 * one alternative left under `AnyOf` is needed. Single-element `AllOf` / `AnyOf` collapse
 * to their element. The shape is part of Taskcluster's InsufficientScopes error details
 * (`unsatisfied`), so it is deliberately not simplified any further.
 */
export function removeGivenScopes(scopes: readonly string[], expr: ScopeExpression): ScopeExpression | null {
  if (typeof expr === 'string') {
    return scopeMatch(scopes, expr) ? null : expr;
  }
  if (isAllOf(expr)) {
    const AllOf: ScopeExpression[] = [];
    for (const e of expr.AllOf) {
      const missing = removeGivenScopes(scopes, e);
      if (missing !== null) {
        AllOf.push(missing);
      }
    }
    if (AllOf.length === 0) {
      return null;
    }
    return AllOf.length === 1 ? AllOf[0] : { AllOf };
  }
  if (isAnyOf(expr)) {
    const AnyOf: ScopeExpression[] = [];
    for (const e of expr.AnyOf) {
      const missing = removeGivenScopes(scopes, e);
      if (missing === null) {
        return null;
      }
      AnyOf.push(missing);
    }
    return AnyOf.length === 1 ? AnyOf[0] : { AnyOf };
  }
  throw new TypeError(`removeGivenScopes: not a scope expression: ${JSON.stringify(expr)}`);
}

/**
 * The required scopes (leaves of the expression) that the scope set satisfies and that
 * together satisfy the expression, normalized; null when the expression is not
 * satisfied. Every satisfied alternative of an `AnyOf` contributes, so the result is the
 * full explanation rather than an arbitrary minimal one. Used to log which of a caller's
 * permissions a request relied on.
 */
export function scopesSatisfying(scopes: readonly string[], expr: ScopeExpression): string[] | null {
  const used: string[] = [];
  // Appends the leaves used when `e` is satisfied; leaves `used` untouched otherwise.
  const collect = (e: ScopeExpression): boolean => {
    if (typeof e === 'string') {
      if (scopeMatch(scopes, e)) {
        used.push(e);
        return true;
      }
      return false;
    }
    const mark = used.length;
    if (isAllOf(e)) {
      for (const sub of e.AllOf) {
        if (!collect(sub)) {
          used.length = mark;
          return false;
        }
      }
      return true;
    }
    if (isAnyOf(e)) {
      let found = false;
      for (const sub of e.AnyOf) {
        found = collect(sub) || found;
      }
      return found;
    }
    return false;
  };
  return collect(expr) ? normalizeScopeSet(used) : null;
}
