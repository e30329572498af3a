import { describe, expect, it } from 'vitest';
import { ifRangeHolds, parseRange } from '../../../src/platform/blob/range.ts';

describe('Range headers', () => {
  it('reads the single-range forms', () => {
    expect(parseRange('bytes=0-4', 10)).toEqual({ kind: 'partial', start: 0, end: 4 });
    expect(parseRange('bytes=5-', 10)).toEqual({ kind: 'partial', start: 5, end: 9 });
    expect(parseRange('bytes=-3', 10)).toEqual({ kind: 'partial', start: 7, end: 9 });
    expect(parseRange('bytes=-30', 10)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=8-100', 10)).toEqual({ kind: 'partial', start: 8, end: 9 });
  });

  it('sends the whole blob for no, malformed or multi-range headers', () => {
    expect(parseRange(undefined, 10)).toEqual({ kind: 'whole' });
    expect(parseRange('bytes=', 10)).toEqual({ kind: 'whole' });
    expect(parseRange('bytes=-', 10)).toEqual({ kind: 'whole' });
    expect(parseRange('items=0-4', 10)).toEqual({ kind: 'whole' });
    expect(parseRange('bytes=0-1,4-5', 10)).toEqual({ kind: 'whole' });
    expect(parseRange('bytes=5-2', 10)).toEqual({ kind: 'whole' });
  });

  it('calls a range that starts past the end unsatisfiable', () => {
    expect(parseRange('bytes=10-', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=10-5', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('honours If-Range by ETag or by date', () => {
    const modified = new Date('2026-01-02T03:04:05.678Z');
    expect(ifRangeHolds(undefined, '"a"', modified)).toBe(true);
    expect(ifRangeHolds('"a"', '"a"', modified)).toBe(true);
    expect(ifRangeHolds('"b"', '"a"', modified)).toBe(false);
    expect(ifRangeHolds(modified.toUTCString(), '"a"', modified)).toBe(true);
    expect(ifRangeHolds(new Date('2026-01-01').toUTCString(), '"a"', modified)).toBe(false);
  });
});
