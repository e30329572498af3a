import { ApiError } from '../errors.ts';

/** Opaque continuation tokens: base64url JSON of where the next page starts. */
export function encodeContinuation(position: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeContinuation<T extends Record<string, unknown>>(
  token: string | undefined,
  check: (v: Record<string, unknown>) => v is T,
): T | undefined {
  if (token === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (parsed && typeof parsed === 'object' && check(parsed)) return parsed;
  } catch {
    // fall through to the error below
  }
  throw new ApiError(
    'InputError',
    'continuationToken is not valid: pass back the token a previous page returned',
  );
}

/** Page size: `limit` capped at `max`, `max` when absent. */
export const pageSize = (limit: number | undefined, max = 1000): number =>
  limit === undefined || limit === 0 ? max : Math.min(limit, max);

/**
 * A page of rows fetched with `limit + 1`: the extra row only says there is more, and the
 * continuation resumes after the last row kept (`position` names where, e.g. `{after: id}`).
 */
export function keysetPage<T>(
  rows: T[],
  limit: number,
  position: (last: T) => Record<string, unknown>,
): { page: T[]; continuation: { continuationToken?: string } } {
  const page = rows.slice(0, limit);
  return {
    page,
    continuation:
      rows.length > limit ? { continuationToken: encodeContinuation(position(page[page.length - 1])) } : {},
  };
}
