import { LruCache } from './lru.ts';
import { endsWithStar } from './match.ts';
import { mergeScopeSets, normalizeSortedScopeSet, scopeCompare } from './normalize.ts';
import { type Rule, RuleIndex, ruleGrants } from './rule-index.ts';

/**
 * Raised when a closure grows past its bounds. Only roles forming a parameterized cycle,
 * which `validateRoles` rejects, can do that: each pass round the cycle can produce a
 * longer scope, or several new ones, forever.
 */
export class RoleExpansionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoleExpansionError';
  }
}

export interface RuleExpanderOptions {
  /** Maps a granted scope to the rule input it feeds back as, or null when it matches no rule. */
  toInput: (scope: string) => string | null;
  /** How many per-input closures to memoize. */
  memoSize?: number;
  /** Bound on distinct inputs visited while computing one closure. */
  maxInputs?: number;
  /** Bound on the length of any input reached; a cycle growing scopes one character per pass hits it. */
  maxInputLength?: number;
}

/** Up to this many parts, pairwise linear merges beat hashing and sorting. */
const MERGE_LIMIT = 4;

/**
 * Normalized union of normalized arrays. A few parts are merged linearly. Many parts
 * overlap heavily (most roles lead to the same few common roles), so duplicates are
 * dropped through a Set before sorting: the sort then costs in the number of distinct
 * scopes, not in the total.
 */
export function unionOfNormalized(parts: readonly (readonly string[])[]): readonly string[] {
  const nonEmpty = parts.filter((p) => p.length > 0);
  if (nonEmpty.length <= 1) {
    return nonEmpty[0] ?? [];
  }
  if (nonEmpty.length <= MERGE_LIMIT) {
    return nonEmpty.reduce((acc, part) => mergeScopeSets(acc, part));
  }
  const distinct = new Set<string>();
  for (const part of nonEmpty) {
    for (const s of part) {
      distinct.add(s);
    }
  }
  return normalizeSortedScopeSet([...distinct].sort(scopeCompare));
}

/**
 * Computes closures under a rule set: the normalized set of every scope granted by the
 * rules an input matches, by the rules those scopes (as inputs) match, and so on.
 *
 * Each closure is a worklist search over inputs with a visited set, so cycles among the
 * rules terminate once no new input appears. Closures are memoized per input; a memoized
 * closure reached during a search is complete, so it is merged in without exploring it.
 *
 * Expansion distributes over union (every rule has a single premise), so the closure of a
 * set of inputs is the union of their closures, and by the same token an input satisfied
 * by the root input (which is then a prefix pattern `I*` and the input starts with I) adds
 * nothing the root's own matches do not already cover, so it is skipped.
 */
export class RuleExpander {
  private readonly index: RuleIndex;
  private readonly toInput: (scope: string) => string | null;
  private readonly memo: LruCache<string, readonly string[]>;
  private readonly maxInputs: number;
  private readonly maxInputLength: number;

  constructor(rules: readonly Rule[] | RuleIndex, options: RuleExpanderOptions) {
    this.index = rules instanceof RuleIndex ? rules : new RuleIndex(rules);
    this.toInput = options.toInput;
    this.memo = new LruCache(options.memoSize ?? 10_000);
    this.maxInputs = options.maxInputs ?? 100_000;
    this.maxInputLength = options.maxInputLength ?? 10_000;
  }

  /** The closure of `input`, excluding the input's own scope unless some rule grants it. */
  closure(input: string): readonly string[] {
    const cached = this.memo.get(input);
    if (cached) {
      return cached;
    }
    const rootPrefix = endsWithStar(input) ? input.slice(0, -1) : null;
    const parts: (readonly string[])[] = [];
    const seen = new Set<string>([input]);
    const queue: string[] = [input];
    const enqueue = (scopes: readonly string[]) => {
      parts.push(scopes);
      for (const scope of scopes) {
        const next = this.toInput(scope);
        if (next === null || seen.has(next)) {
          continue;
        }
        seen.add(next);
        if (seen.size > this.maxInputs || next.length > this.maxInputLength) {
          throw new RoleExpansionError(
            `expanding '${input}' exceeded ${this.maxInputs} scopes or ${this.maxInputLength} characters per scope; the roles likely contain a parameterized cycle`,
          );
        }
        queue.push(next);
      }
    };
    while (queue.length > 0) {
      const current = queue.pop() as string;
      if (current !== input) {
        // Covered by the root only if everything `current` stands for starts with the root's
        // prefix: a pattern input (`X*`) stands for more than its own text.
        const currentPrefix = endsWithStar(current) ? current.slice(0, -1) : current;
        if (rootPrefix !== null && currentPrefix.startsWith(rootPrefix)) {
          continue;
        }
        const known = this.memo.get(current);
        if (known) {
          parts.push(known);
          continue;
        }
      }
      this.index.forEachMatch(current, (rule, param) => enqueue(ruleGrants(rule, param)));
    }
    const result = unionOfNormalized(parts);
    this.memo.set(input, result);
    return result;
  }
}
