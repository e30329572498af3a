import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bindingMatches } from '../../../src/platform/events/bus.ts';
import { topicMatches } from '../../../src/platform/events/topic.ts';

/** Reference semantics written differently (recursive, exponential) to cross-check the DP. */
function reference(pattern: string[], key: string[]): boolean {
  if (pattern.length === 0) {
    return key.length === 0;
  }
  const [head, ...rest] = pattern;
  if (head === '#') {
    return reference(rest, key) || (key.length > 0 && reference(pattern, key.slice(1)));
  }
  return key.length > 0 && (head === '*' || head === key[0]) && reference(rest, key.slice(1));
}

describe('topicMatches', () => {
  it.each([
    ['primary.#', 'primary.abc._._', true],
    ['primary.#', 'primary', true],
    ['primary.*', 'primary', false],
    ['*', 'primary', true],
    ['*', 'primary.x', false],
    ['#', '_', true],
    ['route.index.#', 'route.index.gecko.v2.latest', true],
    ['route.index.*', 'route.index.gecko.v2', false],
    ['primary.*.*.#', 'primary.abc.1', true],
    ['primary.*.*.#', 'primary.abc', false],
    ['#.latest', 'route.index.latest', true],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.x.y.c', false],
  ])('%s against %s is %s', (pattern, key, expected) => {
    expect(topicMatches(pattern, key)).toBe(expected);
  });

  it('agrees with a reference implementation on arbitrary patterns and keys', () => {
    const word = fc.constantFrom('a', 'b', 'c', '_');
    const patternWord = fc.constantFrom('a', 'b', '*', '#');
    fc.assert(
      fc.property(
        fc.array(patternWord, { minLength: 1, maxLength: 6 }),
        fc.array(word, { minLength: 1, maxLength: 6 }),
        (p, k) => {
          expect(topicMatches(p.join('.'), k.join('.'))).toBe(reference(p, k));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('bindingMatches', () => {
  const msg = { exchange: 'ex', routingKey: 'primary.t1._', cc: ['route.index.foo', 'route.notify.x'] };

  it('matches the primary routing key or any CC key, on the same exchange only', () => {
    expect(bindingMatches({ exchange: 'ex', pattern: 'primary.#' }, msg)).toBe(true);
    expect(bindingMatches({ exchange: 'ex', pattern: 'route.notify.*' }, msg)).toBe(true);
    expect(bindingMatches({ exchange: 'ex', pattern: 'route.other.#' }, msg)).toBe(false);
    expect(bindingMatches({ exchange: 'other', pattern: '#' }, msg)).toBe(false);
  });
});
