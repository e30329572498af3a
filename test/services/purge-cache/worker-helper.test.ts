import { describe, expect, it } from 'vitest';
import { cachesToPurge } from '../../../src/services/purge-cache/worker-helper.ts';

const req = (cacheName: string, before: string) => ({
  provisionerId: 'p',
  workerType: 'w',
  cacheName,
  before,
});

describe('cachesToPurge', () => {
  it('names the caches created before a purge request for them, and keeps the others', () => {
    const caches = new Map([
      ['old', new Date('2024-01-01T00:00:00Z')],
      ['new', new Date('2024-01-03T00:00:00Z')],
      ['unrequested', new Date('2023-01-01T00:00:00Z')],
    ]);
    const requests = [req('old', '2024-01-02T00:00:00.000Z'), req('new', '2024-01-02T00:00:00.000Z')];
    expect(cachesToPurge(requests, caches)).toEqual(['old']);
  });

  it('uses the latest request when several name the same cache', () => {
    const caches = new Map([['c', new Date('2024-01-02T12:00:00Z')]]);
    const requests = [req('c', '2024-01-03T00:00:00.000Z'), req('c', '2024-01-01T00:00:00.000Z')];
    expect(cachesToPurge(requests, caches)).toEqual(['c']);
    expect(cachesToPurge([...requests].reverse(), caches)).toEqual(['c']);
  });

  it('keeps a cache created exactly at before, and ignores requests with an unreadable before', () => {
    const at = '2024-01-02T00:00:00.000Z';
    const caches = new Map([
      ['exact', new Date(at)],
      ['garbled', new Date('2000-01-01T00:00:00Z')],
    ]);
    expect(cachesToPurge([req('exact', at), req('garbled', 'not a date')], caches)).toEqual([]);
  });

  it('returns nothing without requests or without caches, in the order of the caches', () => {
    expect(cachesToPurge([], new Map([['a', new Date(0)]]))).toEqual([]);
    expect(cachesToPurge([req('a', '2024-01-01T00:00:00Z')], new Map())).toEqual([]);
    const caches = new Map([
      ['z', new Date(0)],
      ['a', new Date(0)],
    ]);
    const requests = [req('a', '2024-01-01T00:00:00Z'), req('z', '2024-01-01T00:00:00Z')];
    expect(cachesToPurge(requests, caches)).toEqual(['z', 'a']);
  });
});
