import { assumedInput, type Role, rolesToRules } from './roles.ts';
import { type IndexedRule, PARAM, RuleIndex, substituteParam } from './rule-index.ts';

export type RoleValidationCode = 'DependencyCycleError' | 'InvalidScopeError';

/** Why a set of roles may not be stored; the auth API reports it as an InputError. */
export class RoleValidationError extends Error {
  readonly code: RoleValidationCode;
  /** For cycles: `assume:<roleId>` of each role on the cycle, the first repeated at the end. */
  readonly cycle: string[] | undefined;
  /** For invalid scopes: the offending scope. */
  readonly scope: string | undefined;

  constructor(code: RoleValidationCode, message: string, extra: { cycle?: string[]; scope?: string } = {}) {
    super(message);
    this.name = 'RoleValidationError';
    this.code = code;
    this.cycle = extra.cycle;
    this.scope = extra.scope;
  }
}

/**
 * In a prefix role, `<..>` may appear once, and not right after a `*`: in `x*<..>` a
 * parameter ending in `*` would make the earlier `*` trailing, and which of the two
 * stars is the pattern would be ambiguous.
 */
function checkParameterizedScope(scope: string): void {
  const at = scope.indexOf(PARAM);
  if (scope.indexOf(PARAM, at + PARAM.length) !== -1) {
    throw new RoleValidationError(
      'InvalidScopeError',
      `scope '${scope}' uses the parameter <..> more than once`,
      {
        scope,
      },
    );
  }
  if (scope.endsWith(`*${PARAM}`)) {
    throw new RoleValidationError(
      'InvalidScopeError',
      `scope '${scope}' ends in '*<..>', which makes the meaning of '*' ambiguous`,
      { scope },
    );
  }
}

/**
 * Rules the given rule can reach in one step, for any input matching it. Substituting `*`
 * for `<..>` yields scopes satisfying every substitution, so their matches over-approximate
 * (never miss) a real dependency.
 */
function dependencies(index: RuleIndex, rule: IndexedRule): Set<IndexedRule> {
  const deps = new Set<IndexedRule>();
  const scopes = [...rule.fixed, ...rule.parameterized.map((s) => substituteParam(s, '*'))];
  for (const scope of scopes) {
    const input = assumedInput(scope);
    if (input !== null) {
      index.forEachMatch(input, (dep) => deps.add(dep));
    }
  }
  return deps;
}

/**
 * Reject role sets Taskcluster refuses to store: malformed `<..>` use, and dependency
 * cycles, where a role can (directly or through others, for some parameter) grant a scope
 * leading back to itself. Such cycles are forbidden even when expansion would reach a
 * fixed point, because parameterized ones can grow scopes without bound.
 * Throws `RoleValidationError`; returns normally when the roles are acceptable.
 */
export function validateRoles(roles: readonly Role[]): void {
  const index = new RuleIndex(rolesToRules(roles));
  for (const rule of index.rules) {
    for (const scope of rule.parameterized) {
      checkParameterizedScope(scope);
    }
  }

  const VISITING = 1;
  const DONE = 2;
  const state = new Map<IndexedRule, number>();
  for (const start of index.rules) {
    if (state.has(start)) {
      continue;
    }
    // Iterative depth-first search, so long role chains cannot overflow the call stack.
    const path: IndexedRule[] = [start];
    const pending: Iterator<IndexedRule>[] = [dependencies(index, start).values()];
    state.set(start, VISITING);
    while (path.length > 0) {
      const next = pending[pending.length - 1].next();
      if (next.done) {
        state.set(path.pop() as IndexedRule, DONE);
        pending.pop();
        continue;
      }
      const dep = next.value;
      const s = state.get(dep);
      if (s === VISITING) {
        const cycle = [...path.slice(path.indexOf(dep)), dep].map((r) => `assume:${r.pattern}`);
        throw new RoleValidationError(
          'DependencyCycleError',
          `roles must not form dependency cycles, but found: ${cycle.map((p) => `'${p}'`).join(' -> ')}`,
          { cycle },
        );
      }
      if (s === undefined) {
        state.set(dep, VISITING);
        path.push(dep);
        pending.push(dependencies(index, dep).values());
      }
    }
  }
}
