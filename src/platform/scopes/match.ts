const STAR = 0x2a;

/** True when `s` ends with the `*` that makes a held scope a prefix pattern. */
export const endsWithStar = (s: string): boolean => s.charCodeAt(s.length - 1) === STAR;

/**
 * Does one held scope satisfy one required scope? Only a trailing `*` in the held scope is
 * special; a `*` in the required scope is an ordinary character, so `a*` satisfies `a*`
 * and `ab*` but `a` does not satisfy `a*`.
 */
export function patternMatch(held: string, required: string): boolean {
  if (held === required) {
    return true;
  }
  return endsWithStar(held) && required.startsWith(held.slice(0, -1));
}

/** Does any of the held scopes satisfy the required scope? */
export function scopeMatch(held: readonly string[], required: string): boolean {
  for (const h of held) {
    if (patternMatch(h, required)) {
      return true;
    }
  }
  return false;
}
