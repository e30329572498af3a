import { LruCache } from './lru.ts';
import { mergeScopeSets, normalizeScopeSet } from './normalize.ts';
import { RuleExpander, unionOfNormalized } from './rule-expander.ts';
import { type Rule, RuleIndex } from './rule-index.ts';

export interface Role {
  readonly roleId: string;
  readonly scopes: readonly string[];
}

export interface RoleResolverOptions {
  /** Expanded scope sets remembered, keyed by the `assume:`-relevant part of the input. */
  cacheSize?: number;
  /** Per-scope closures remembered; these are shared by every input set that holds the scope. */
  closureCacheSize?: number;
  /** Bounds that stop expansion through parameterized cycles (see `RoleExpansionError`). */
  maxInputs?: number;
  maxInputLength?: number;
}

const ASSUME = 'assume:';

/** Star scopes short enough to be prefixes of `assume:`: each satisfies every `assume:` scope. */
const ASSUME_ALL = new Set(['*', 'a*', 'as*', 'ass*', 'assu*', 'assum*', 'assume*']);

/**
 * The role input a held scope stands for: the text after `assume:`, or `*` (every role)
 * for a star scope that is a prefix pattern of `assume:` itself. Null when the scope
 * satisfies no `assume:` scope and so reaches no role.
 */
export function assumedInput(scope: string): string | null {
  if (scope.startsWith(ASSUME)) {
    return scope.slice(ASSUME.length);
  }
  return ASSUME_ALL.has(scope) ? '*' : null;
}

const reachesRoles = (scope: string): boolean => scope.startsWith(ASSUME) || ASSUME_ALL.has(scope);

/** Roles as rules over what follows `assume:`. */
export const rolesToRules = (roles: readonly Role[]): Rule[] =>
  roles.map(({ roleId, scopes }) => ({ pattern: roleId, scopes }));

/**
 * Expands scope sets through roles, as Taskcluster's auth service does: holding a scope
 * that satisfies `assume:<roleId>` grants the role's scopes, recursively.
 *
 * - `assume:X` reaches the role `X` and every role `P*` with X starting with P; such a
 *   prefix role's `<..>` is replaced by the rest of X after P.
 * - A star scope `assume:X*` reaches every role a scope starting with `assume:X` could;
 *   `<..>` then becomes the rest of X followed by `*` (or just `*` for roles whose id
 *   extends X), and text after `<..>` is dropped.
 * - `*`, `a*`, `as*`, ... `assume*` and `assume:*` reach every role.
 *
 * Cycles terminate. Construction only indexes the roles; closures are computed on demand
 * and memoized per held scope, and whole results are cached per input set, so repeated
 * expansion of a client's scopes costs one normalization and one merge. The caches are
 * only valid for the roles given, so a resolver is immutable: build a new one when roles
 * change.
 */
export class RoleResolver {
  readonly roleCount: number;
  private readonly expander: RuleExpander;
  private readonly cache: LruCache<string, readonly string[]>;

  constructor(roles: readonly Role[], options: RoleResolverOptions = {}) {
    const index = new RuleIndex(rolesToRules(roles));
    this.roleCount = index.rules.length;
    this.expander = new RuleExpander(index, {
      toInput: assumedInput,
      memoSize: options.closureCacheSize ?? 10_000,
      maxInputs: options.maxInputs,
      maxInputLength: options.maxInputLength,
    });
    this.cache = new LruCache(options.cacheSize ?? 1_000);
  }

  /**
   * The normalized closure of `scopes` under the roles: the input scopes plus everything
   * they grant. Returns a new array. Throws `RoleExpansionError` only for role sets with
   * unbounded parameterized cycles, which `validateRoles` rejects.
   */
  expand(scopes: readonly string[]): string[] {
    const held = normalizeScopeSet(scopes);
    const assuming = held.filter(reachesRoles);
    if (assuming.length === 0) {
      return held;
    }
    // Newline-joined keys are unambiguous for valid scopes; anything else skips the cache.
    const cacheable = assuming.every((s) => !s.includes('\n'));
    const key = cacheable ? assuming.join('\n') : '';
    let expanded = cacheable ? this.cache.get(key) : undefined;
    if (!expanded) {
      const closures = assuming.map((s) => this.expander.closure(assumedInput(s) as string));
      expanded = unionOfNormalized([assuming, ...closures]);
      if (cacheable) {
        this.cache.set(key, expanded);
      }
    }
    if (assuming.length === held.length) {
      return [...expanded];
    }
    return mergeScopeSets(
      held.filter((s) => !reachesRoles(s)),
      expanded,
    );
  }
}
