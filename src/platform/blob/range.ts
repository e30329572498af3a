/**
 * HTTP Range requests (RFC 9110 §14) for downloads served by Taskyard itself, so an interrupted
 * download of a large artifact resumes where it stopped instead of starting over. One range per
 * request is enough for that; a multi-range request is answered with the whole blob, which the
 * RFC allows.
 */

export type RangeResult =
  | { kind: 'whole' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const SINGLE = /^bytes=(\d*)-(\d*)$/;

/**
 * Reads a Range header against a blob of `size` bytes. `end` is inclusive, as in Content-Range.
 * A malformed header is ignored (the whole blob is sent), as the RFC says.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'whole' };
  const match = SINGLE.exec(header.trim());
  if (!match) return { kind: 'whole' };
  const [, first, last] = match;
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    // A suffix: the last N bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (start >= size) return { kind: 'unsatisfiable' };
  if (end < start) return { kind: 'whole' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}

/**
 * If-Range makes a resumed download safe: the client names the version it has half of, and
 * gets the rest only if the blob is still that version, the whole new one otherwise.
 */
export function ifRangeHolds(ifRange: string | undefined, etag: string, lastModified: Date): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === etag;
  const date = Date.parse(value);
  // HTTP dates have whole seconds; a blob changed within the same second cannot be told apart,
  // so the comparison is exact on seconds, as the RFC requires for a strong validator.
  return Number.isFinite(date) && Math.floor(lastModified.getTime() / 1000) * 1000 === date;
}
