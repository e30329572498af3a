import { describe, expect, it } from 'vitest';
import { normalizedSetSatisfies, patternMatch, scopeMatch } from '../../../src/platform/scopes/index.ts';

describe('patternMatch', () => {
  it('is satisfied by an equal scope', () => {
    expect(patternMatch('queue:create-task:x', 'queue:create-task:x')).toBe(true);
    expect(patternMatch('', '')).toBe(true);
  });

  it('treats a trailing star in the held scope as a prefix pattern', () => {
    expect(patternMatch('a*', 'a')).toBe(true);
    expect(patternMatch('a*', 'abc')).toBe(true);
    expect(patternMatch('a*', 'a*')).toBe(true);
    expect(patternMatch('a*', 'ab*')).toBe(true);
    expect(patternMatch('*', '')).toBe(true);
    expect(patternMatch('*', 'anything at all')).toBe(true);
  });

  it('treats a star in the required scope as an ordinary character', () => {
    expect(patternMatch('a', 'a*')).toBe(false);
    expect(patternMatch('ab*', 'a*')).toBe(false);
    expect(patternMatch('a**', 'a*')).toBe(true);
    expect(patternMatch('a**', 'ab')).toBe(false);
  });

  it('treats a star that is not trailing as an ordinary character', () => {
    expect(patternMatch('foo:*:bing', 'foo:bar:bing')).toBe(false);
    expect(patternMatch('*:bar', 'foo:bar')).toBe(false);
  });

  it('does not match a held scope that is merely a prefix', () => {
    expect(patternMatch('foo:', 'foo:bar')).toBe(false);
    expect(patternMatch('abc', 'ab')).toBe(false);
  });
});

describe('scopeMatch', () => {
  it('is satisfied when any held scope matches', () => {
    expect(scopeMatch(['x', 'b*', 'c'], 'bcd')).toBe(true);
    expect(scopeMatch(['x', 'b*', 'c'], 'cd')).toBe(false);
  });

  it('is never satisfied by the empty set', () => {
    expect(scopeMatch([], '')).toBe(false);
  });

  it('is satisfied by * for every required scope', () => {
    expect(scopeMatch(['*'], 'assume:anything')).toBe(true);
  });
});

describe('normalizedSetSatisfies', () => {
  it('finds exact members and covering star scopes', () => {
    const set = ['a*', 'b', 'bc*', 'x'];
    expect(normalizedSetSatisfies(set, 'a')).toBe(true);
    expect(normalizedSetSatisfies(set, 'azz')).toBe(true);
    expect(normalizedSetSatisfies(set, 'b')).toBe(true);
    expect(normalizedSetSatisfies(set, 'bcd')).toBe(true);
    expect(normalizedSetSatisfies(set, 'bd')).toBe(false);
    expect(normalizedSetSatisfies(set, 'b*')).toBe(false);
    expect(normalizedSetSatisfies(set, 'w')).toBe(false);
    expect(normalizedSetSatisfies([], 'w')).toBe(false);
  });

  it('finds X** as satisfying X* although it sorts after it', () => {
    expect(normalizedSetSatisfies(['a**'], 'a*')).toBe(true);
    expect(normalizedSetSatisfies(['a**', 'a+'], 'a*')).toBe(true);
    expect(normalizedSetSatisfies(['a**'], 'a')).toBe(false);
  });
});
