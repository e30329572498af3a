const PARAM = '<..>';

/**
 * What a caller must hold to grant `scope` through a role: a parameterized scope can become any
 * value in place of `<..>` (and what follows it), so it needs the `*` form: granting
 * `secrets:get:repo/<..>/ci` needs `secrets:get:repo/*`.
 */
export function scopeToHoldForGranting(scope: string): string {
  const i = scope.indexOf(PARAM);
  return i >= 0 ? `${scope.slice(0, i)}*` : scope;
}
