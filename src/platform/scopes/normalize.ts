import { endsWithStar, patternMatch } from './match.ts';

/**
 * The canonical order of scope sets, identical to Taskcluster's so API outputs match
 * byte for byte: code-unit lexicographic order on the scope with its trailing `*`
 * removed, and on a tie the starred scope first (`a*` < `a` < `a(` < `aa`).
 *
 * The point of the order: for any prefix P, the scopes a `P*` satisfies (those starting
 * with P) sort contiguously right after `P*`, so normalizing and merging are single
 * linear passes.
 */
export function scopeCompare(a: string, b: string): number {
  const aStar = endsWithStar(a);
  const bStar = endsWithStar(b);
  if (!aStar && !bStar) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const aBase = aStar ? a.slice(0, -1) : a;
  const bBase = bStar ? b.slice(0, -1) : b;
  if (aBase === bBase) {
    return aStar === bStar ? 0 : aStar ? -1 : 1;
  }
  return aBase < bBase ? -1 : 1;
}

/**
 * Drop duplicates and scopes satisfied by an earlier star scope from an array already
 * sorted with `scopeCompare`. Relies on the contiguity property described there.
 */
export function normalizeSortedScopeSet(sorted: readonly string[]): string[] {
  const n = sorted.length;
  const result: string[] = [];
  let i = 0;
  while (i < n) {
    const scope = sorted[i++];
    result.push(scope);
    if (endsWithStar(scope)) {
      const prefix = scope.slice(0, -1);
      while (i < n && sorted[i].startsWith(prefix)) {
        i++;
      }
    } else {
      while (i < n && sorted[i] === scope) {
        i++;
      }
    }
  }
  return result;
}

/**
 * The normal form of a scope set: sorted with `scopeCompare`, without duplicates, and
 * without any scope satisfied by another. Two sets satisfy the same scopes exactly when
 * their normal forms are equal. Does not modify its argument.
 */
export function normalizeScopeSet(scopes: readonly string[]): string[] {
  // Stored scope sets are usually normalized already; checking costs n comparisons, not n log n.
  for (let i = 1; i < scopes.length; i++) {
    if (scopeCompare(scopes[i - 1], scopes[i]) > 0) {
      return normalizeSortedScopeSet([...scopes].sort(scopeCompare));
    }
  }
  return normalizeSortedScopeSet(scopes);
}

/**
 * Union of two normalized sets, normalized, in one linear merge. The result satisfies
 * exactly the scopes satisfied by either input. Does not modify its arguments.
 *
 * Within one normalized input no scope satisfies another, so the only scopes to drop are
 * those of one input satisfied by a star scope just taken from the other; by the sort
 * order they are next in line there.
 */
export function mergeScopeSets(a: readonly string[], b: readonly string[]): string[] {
  const n = a.length;
  const m = b.length;
  const result: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    const x = a[i];
    const y = b[j];
    if (x === y) {
      result.push(x);
      i++;
      j++;
    } else if (scopeCompare(x, y) < 0) {
      result.push(x);
      i++;
      if (endsWithStar(x)) {
        const prefix = x.slice(0, -1);
        while (j < m && b[j].startsWith(prefix)) {
          j++;
        }
      }
    } else {
      result.push(y);
      j++;
      if (endsWithStar(y)) {
        const prefix = y.slice(0, -1);
        while (i < n && a[i].startsWith(prefix)) {
          i++;
        }
      }
    }
  }
  while (i < n) {
    result.push(a[i++]);
  }
  while (j < m) {
    result.push(b[j++]);
  }
  return result;
}

/** Union of two arbitrary scope sets, normalized. */
export function scopeUnion(a: readonly string[], b: readonly string[]): string[] {
  return mergeScopeSets(normalizeScopeSet(a), normalizeScopeSet(b));
}

/** Index of the first element of `sorted` that does not sort before `s`. */
function lowerBound(sorted: readonly string[], s: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (scopeCompare(sorted[mid], s) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/**
 * `scopeMatch` in O(log n) for a set produced by `normalizeScopeSet`.
 *
 * In a normalized set no scope satisfies another, so at most one star scope `P*` can be a
 * prefix pattern of `required`, and every scope sorting between `P*` and `required` would
 * start with `P` and thus have been removed: the candidate is the immediate predecessor
 * of `required`'s position. The one exception is `X**`, which satisfies `X*` yet sorts
 * after it, so it is looked up directly.
 */
export function normalizedSetSatisfies(normalized: readonly string[], required: string): boolean {
  const pos = lowerBound(normalized, required);
  if (pos < normalized.length && normalized[pos] === required) {
    return true;
  }
  if (pos > 0 && patternMatch(normalized[pos - 1], required)) {
    return true;
  }
  if (endsWithStar(required)) {
    const doubled = `${required}*`;
    const at = lowerBound(normalized, doubled);
    return at < normalized.length && normalized[at] === doubled;
  }
  return false;
}

/**
 * Does a normalized set satisfy every scope the given scope would satisfy if held? For a
 * scope without a trailing star that is plain satisfaction. For `P*` it takes a held star
 * scope `Q*` with P starting with Q: satisfying the string `P*` is not enough, since `P**`
 * satisfies it while covering only scopes starting with `P*`. In a normalized set such a
 * `Q*` is the immediate predecessor of P (see `normalizedSetSatisfies`), and if P itself is
 * present no star scope covers it. When P itself ends in a star, whatever satisfies the
 * string P is such a `Q*`.
 */
function normalizedSetCovers(normalized: readonly string[], held: string): boolean {
  if (!endsWithStar(held)) {
    return normalizedSetSatisfies(normalized, held);
  }
  const base = held.slice(0, -1);
  if (endsWithStar(base)) {
    return normalizedSetSatisfies(normalized, base);
  }
  const pos = lowerBound(normalized, base);
  if (pos < normalized.length && normalized[pos] === base) {
    return false;
  }
  return pos > 0 && endsWithStar(normalized[pos - 1]) && patternMatch(normalized[pos - 1], base);
}

/**
 * The normalized set of scopes satisfied by both `a` and `b`. A scope satisfied by both is
 * satisfied by some `x` in `a` and `y` in `b`, and the scopes satisfied by both `x` and `y`
 * are those satisfied by whichever of the two is narrower (or none). So the answer is the
 * members of each set all of whose coverage the other set covers.
 */
export function scopeIntersection(a: readonly string[], b: readonly string[]): string[] {
  const na = normalizeScopeSet(a);
  const nb = normalizeScopeSet(b);
  return mergeScopeSets(
    na.filter((s) => normalizedSetCovers(nb, s)),
    nb.filter((s) => normalizedSetCovers(na, s)),
  );
}
