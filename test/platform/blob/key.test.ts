import { describe, expect, it } from 'vitest';
import {
  assertValidBlobKey,
  assertValidContentType,
  encodeBlobKey,
  InvalidBlobKeyError,
  MAX_BLOB_KEY_BYTES,
} from '../../../src/platform/blob/index.ts';
import { PATH_TRICKS } from './contract.ts';

describe('blob keys', () => {
  it('accepts the keys the queue makes from task ids, runs and artifact names', () => {
    for (const key of [
      'fN1SbArXTPSVFNUvaOlinQ/0/public/logs/live.log',
      'fN1SbArXTPSVFNUvaOlinQ/12/private/docker-worker/image.tar.zst',
      'task/0/public/a name with spaces & symbols?#%.txt',
      'task/0/public/日本語/résumé.pdf',
      'task/0/.hidden',
      'task/0/a..b',
      'task/0/...',
      'x',
    ]) {
      expect(assertValidBlobKey(key)).toBe(key);
    }
  });

  it('refuses path tricks with an error that names the key', () => {
    for (const key of PATH_TRICKS) {
      expect(() => assertValidBlobKey(key), JSON.stringify(key)).toThrow(InvalidBlobKeyError);
      try {
        assertValidBlobKey(key);
      } catch (err) {
        expect((err as InvalidBlobKeyError).key).toBe(key);
        expect((err as Error).message).toContain(JSON.stringify(key));
      }
    }
  });

  it('says which rule a key broke', () => {
    expect(() => assertValidBlobKey('a/../../x')).toThrow(/"\.\." segments/);
    expect(() => assertValidBlobKey('/etc/passwd')).toThrow(/leading "\/"/);
    expect(() => assertValidBlobKey('a//b')).toThrow(/empty segments/);
    expect(() => assertValidBlobKey('a\\b')).toThrow(/backslashes/);
    expect(() => assertValidBlobKey('a\u0000b')).toThrow(/NUL/);
    expect(() => assertValidBlobKey('a\u0085b')).toThrow(/control characters/);
    expect(() => assertValidBlobKey('a\ud800b')).toThrow(/valid Unicode/);
  });

  it('refuses keys longer than S3 allows', () => {
    expect(assertValidBlobKey('k'.repeat(MAX_BLOB_KEY_BYTES))).toHaveLength(MAX_BLOB_KEY_BYTES);
    expect(() => assertValidBlobKey('k'.repeat(MAX_BLOB_KEY_BYTES + 1))).toThrow(/at most 1024 bytes/);
    expect(() => assertValidBlobKey('é'.repeat(MAX_BLOB_KEY_BYTES / 2 + 1))).toThrow(/at most 1024 bytes/);
  });

  it('encodes each segment for a URL and keeps the separators', () => {
    expect(encodeBlobKey('t/0/public/a b?#%.txt')).toBe('t/0/public/a%20b%3F%23%25.txt');
  });

  it('accepts ordinary content types and refuses ones that could break a header', () => {
    expect(assertValidContentType('text/plain; charset=utf-8')).toBe('text/plain; charset=utf-8');
    expect(() => assertValidContentType('')).toThrow(TypeError);
    expect(() => assertValidContentType('text/plain\r\nx-evil: 1')).toThrow(/printable ASCII/);
    expect(() => assertValidContentType('text/plain; name=é')).toThrow(/printable ASCII/);
  });
});
