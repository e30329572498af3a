/**
 * Checks on a role set before it is written: no dependency cycles, and only well-formed
 * parameterized scopes. A cycle is refused even though expansion would terminate, because it
 * makes every role on it hold every other's scopes, which is never what the author meant.
 */

const PARAM = '<..>';

/** A parameterized scope with two `<..>`, or `*<..>`, has no meaning. */
export function invalidParameterizedScope(scopes: string[]): string | undefined {
  return scopes.find((s) => {
    const i = s.indexOf(PARAM);
    return i >= 0 && (s.indexOf(PARAM, i + 1) >= 0 || s[i - 1] === '*');
  });
}

/** The scope as a pattern: `<..>` and what follows stand for anything. */
function asPattern(scope: string): string {
  const i = scope.indexOf(PARAM);
  return i >= 0 ? `${scope.slice(0, i)}*` : scope;
}

/** Whether two patterns (trailing `*` = any suffix) can match a common scope. */
function overlaps(a: string, b: string): boolean {
  const aStar = a.endsWith('*');
  const bStar = b.endsWith('*');
  const ap = aStar ? a.slice(0, -1) : a;
  const bp = bStar ? b.slice(0, -1) : b;
  if (aStar && bStar) return ap.startsWith(bp) || bp.startsWith(ap);
  if (aStar) return b.startsWith(ap);
  if (bStar) return a.startsWith(bp);
  return a === b;
}

/** Returns a cycle through `changedRoleId` as a list of roleIds, or undefined. */
export function findRoleCycle(
  roles: Array<{ roleId: string; scopes: string[] }>,
  changedRoleId: string,
): string[] | undefined {
  const byId = new Map(roles.map((r) => [r.roleId, r.scopes.map(asPattern)]));
  const patterns = roles.map((r) => ({ roleId: r.roleId, pattern: `assume:${r.roleId}` }));
  const successors = (roleId: string): string[] => {
    const scopes = byId.get(roleId) ?? [];
    return patterns.filter((p) => scopes.some((s) => overlaps(s, p.pattern))).map((p) => p.roleId);
  };
  // Depth-first from the changed role; any cycle created by this change passes through it.
  const onPath: string[] = [];
  const done = new Set<string>();
  const visit = (roleId: string): string[] | undefined => {
    const at = onPath.indexOf(roleId);
    if (at >= 0) return [...onPath.slice(at), roleId];
    if (done.has(roleId)) return undefined;
    onPath.push(roleId);
    for (const next of successors(roleId)) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    onPath.pop();
    done.add(roleId);
    return undefined;
  };
  return visit(changedRoleId);
}

/**
 * What a caller must hold to grant `scope` through a role: a parameterized scope can become any
 * value in place of `<..>`, so it needs the `*` form (`repo:<..>/ci` needs `repo:*`).
 */
export function scopeToHoldForGranting(scope: string): string {
  return asPattern(scope);
}
