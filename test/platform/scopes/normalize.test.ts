import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  mergeScopeSets,
  normalizeScopeSet,
  scopeCompare,
  scopeIntersection,
  scopeUnion,
} from '../../../src/platform/scopes/index.ts';

const sign = (n: number) => Math.sign(n);

/** Asserts that `ordered` is strictly increasing under scopeCompare, pair by pair. */
const expectStrictOrder = (ordered: string[]) => {
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      expect([ordered[i], ordered[j], sign(scopeCompare(ordered[i], ordered[j]))]).toEqual([
        ordered[i],
        ordered[j],
        sign(i - j),
      ]);
    }
  }
};

/** Sorts every permutation-ish shuffle of `scopes` and expects `expected`. */
const expectSortsTo = (expected: string[]) => {
  fc.assert(
    fc.property(fc.shuffledSubarray(expected, { minLength: expected.length }), (shuffled) => {
      expect([...shuffled].sort(scopeCompare)).toEqual(expected);
    }),
    { numRuns: 50 },
  );
};

describe('scopeCompare', () => {
  it('puts a trailing-star scope before the same scope without the star', () => {
    expectStrictOrder(['abc*', 'abc', 'abc%d']);
  });

  it('orders runs of stars by the text before the last one', () => {
    expectStrictOrder([
      '*',
      '',
      '**',
      '***',
      '****',
      'aaa*',
      'aaa',
      'aaa**',
      'aaa***',
      'aaa****',
      'aaa*****',
    ]);
  });

  it('orders characters below * after the trailing star', () => {
    expectStrictOrder(['x*', 'x', 'x%*', 'x%', 'x%%', 'x%a', 'x**', 'x*%', 'x*a', 'xa*', 'xa', 'xa%', 'xaa']);
  });

  it('returns 0 only for equal scopes', () => {
    expect(scopeCompare('a*', 'a*')).toBe(0);
    expect(scopeCompare('', '')).toBe(0);
  });
});

describe('sorting with scopeCompare', () => {
  it('sorts numbered scopes lexically with the star scope of each prefix first', () => {
    expectSortsTo([
      'test-*',
      'test-1*',
      'test-1',
      'test-10',
      'test-11',
      'test-12',
      'test-13',
      'test-2',
      'test-3',
    ]);
  });

  it('sorts a star in the middle as an ordinary character', () => {
    expectSortsTo(['test*', 'test', 'test*a', 'test*b', 'testb']);
    expectSortsTo(['ab', 'abc*', 'abc', 'abc*d', 'abcd']);
  });

  it('sorts the empty scope after * and before other characters', () => {
    expectSortsTo(['*', '', '(']);
    expectSortsTo(['aa', 'ab*', 'ab(']);
  });

  it('sorts a realistic list of role ids', () => {
    expectSortsTo([
      '*',
      'a*',
      'a',
      'aa',
      'aaa',
      'aab',
      'ab',
      'abb*',
      'abb',
      'abbc',
      'ca',
      'caa',
      'cab*',
      'cab',
      'cc*',
    ]);
  });
});

describe('normalizeScopeSet', () => {
  it('leaves the empty set and normalized sets alone', () => {
    expect(normalizeScopeSet([])).toEqual([]);
    expect(normalizeScopeSet(['a*', 'b*'])).toEqual(['a*', 'b*']);
  });

  it('removes scopes implied by star scopes', () => {
    expect(normalizeScopeSet(['abc', 'abx*', 'ab*', 'b', 'b*'])).toEqual(['ab*', 'b*']);
  });

  it('removes duplicates', () => {
    expect(normalizeScopeSet(['abc', 'abx*', 'ab*', 'b', 'b*', 'abc*', 'b*', 'b*', 'b*', 'b*'])).toEqual([
      'ab*',
      'b*',
    ]);
    expect(normalizeScopeSet(['x', 'x', 'y', 'x'])).toEqual(['x', 'y']);
  });

  it('sorts its output and leaves its input untouched', () => {
    const input = ['b', 'a*', 'c', 'ab'];
    expect(normalizeScopeSet(input)).toEqual(['a*', 'b', 'c']);
    expect(input).toEqual(['b', 'a*', 'c', 'ab']);
  });

  it('keeps * alone when present', () => {
    expect(normalizeScopeSet(['*', 'test', 'te*'])).toEqual(['*']);
  });

  it('keeps scopes that only look related', () => {
    expect(normalizeScopeSet(['ab', 'a', 'abc*'])).toEqual(['a', 'ab', 'abc*']);
    expect(normalizeScopeSet(['test*', 'ab*'])).toEqual(['ab*', 'test*']);
  });

  it('treats X* and X** as equivalent and keeps X*', () => {
    expect(normalizeScopeSet(['a**', 'a*'])).toEqual(['a*']);
  });
});

describe('mergeScopeSets', () => {
  const merge = (a: string[], b: string[]) => mergeScopeSets(normalizeScopeSet(a), normalizeScopeSet(b));

  it('merges with an empty set', () => {
    expect(merge(['a', 'b', 'c'], [])).toEqual(['a', 'b', 'c']);
    expect(merge([], ['a*', 'b', 'c'])).toEqual(['a*', 'b', 'c']);
  });

  it('keeps lexical order for numbered scopes', () => {
    const scopes = [
      'assume:tr-0',
      'assume:tr-1',
      'assume:tr-10',
      'assume:tr-2',
      'assume:tr-9',
      'special-scope',
    ];
    expect(merge(scopes, [])).toEqual(scopes);
    expect(merge([], scopes)).toEqual(scopes);
  });

  it('drops scopes of either set implied by star scopes of the other', () => {
    expect(
      merge(['b*', 'ab', 'aa', 'a*', 'c', 'ca', 'da*'], ['b*', 'ab', 'aa', 'a*', 'abc', 'ab*', 'ca', 'daa']),
    ).toEqual(['a*', 'b*', 'c', 'ca', 'da*']);
    expect(merge(['x', 'yz'], ['y*'])).toEqual(['x', 'y*']);
    expect(merge(['y*'], ['x', 'yz'])).toEqual(['x', 'y*']);
  });

  it('leaves its arguments untouched', () => {
    const a = ['a*'];
    const b = ['ab', 'b'];
    mergeScopeSets(a, b);
    expect(a).toEqual(['a*']);
    expect(b).toEqual(['ab', 'b']);
  });
});

describe('scopeUnion', () => {
  it('unions unnormalized sets into a normalized one', () => {
    expect(scopeUnion(['abc', 'a*', 'd*', 'xyzb*'], ['abc', 'a*', 'd*', 'xyzb*'])).toEqual([
      'a*',
      'd*',
      'xyzb*',
    ]);
    expect(scopeUnion(['a*'], ['b*'])).toEqual(['a*', 'b*']);
    expect(scopeUnion(['a*'], ['abc', 'd'])).toEqual(['a*', 'd']);
    expect(scopeUnion(['a', 'a*', 'abc', 'abc*'], ['def', 'd*', 'defg*'])).toEqual(['a*', 'd*']);
  });
});

describe('scopeIntersection', () => {
  const both = (a: string[], b: string[], expected: string[]) => {
    expect(scopeIntersection(a, b)).toEqual(expected);
    expect(scopeIntersection(b, a)).toEqual(expected);
  };

  it('keeps exact matches', () => {
    both(['foo:bar'], ['foo:bar'], ['foo:bar']);
    both(['bar:y', 'foo:x'], ['bar:*', 'foo:x'], ['bar:y', 'foo:x']);
  });

  it('keeps the narrower of a star scope and what it covers', () => {
    both(['foo:bar'], ['foo:*'], ['foo:bar']);
    both(['bar:*'], ['foo:x', 'bar:x'], ['bar:x']);
    both(['a*'], ['ab'], ['ab']);
    both(['a*'], ['ab*'], ['ab*']);
    both(['foo:bar', 'bar:bing'], ['*'], ['bar:bing', 'foo:bar']);
  });

  it('is empty when nothing is satisfied by both', () => {
    both(['foo:bar'], [''], []);
    both(['foo:bar:bing'], ['foo:*:bing'], []);
    both(['foo:bar'], ['*:bar'], []);
    both(['foo:bar'], ['foo:'], []);
    both(['foo:bar:*'], ['bar:bing'], []);
    both(['bar:*'], ['foo:bar:bing'], []);
    both([], ['foo:bar'], []);
  });

  it('keeps X** from X** and X*, which satisfies the string X* but covers less than X*', () => {
    both(['a**'], ['a*'], ['a**']);
    both(['**'], ['*'], ['**']);
    both(['a**', 'b'], ['a*b', 'a*'], ['a**']);
  });

  it('normalizes its result', () => {
    both(['a*', 'b*'], ['ab', 'abc', 'ab*', 'bq'], ['ab*', 'bq']);
  });
});
