import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type BlobStoreConfig,
  createBlobStore,
  FilesystemBlobStore,
  S3BlobStore,
} from '../../../src/platform/blob/index.ts';

describe('choosing a blob store from configuration', () => {
  it('makes a filesystem store for embedded mode', () => {
    const store = createBlobStore(
      { kind: 'filesystem', root: '/tmp/taskyard-config-test' },
      { baseUrl: () => 'http://127.0.0.1:8080/blobs', secret: randomBytes(32) },
    );
    expect(store).toBeInstanceOf(FilesystemBlobStore);
    expect(store.root).toBe('/tmp/taskyard-config-test');
  });

  it('makes an S3 store with static credentials or the default chain', async () => {
    const store = createBlobStore({
      kind: 's3',
      bucket: 'artifacts',
      prefix: 'prod',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
    });
    expect(store).toBeInstanceOf(S3BlobStore);
    const url = new URL(await store.downloadUrl('t/0/x', { expires: new Date(Date.now() + 60_000) }));
    expect(`${url.origin}${url.pathname}`).toBe('http://127.0.0.1:9000/artifacts/prod/t/0/x');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\//);
    store.destroy();
    const chain = createBlobStore({ kind: 's3', bucket: 'artifacts' });
    expect(chain).toBeInstanceOf(S3BlobStore);
    chain.destroy();
  });

  it('refuses a half-filled configuration, naming what is missing', () => {
    expect(() => createBlobStore({ kind: 'filesystem', root: '' } as BlobStoreConfig)).toThrow(/root/);
    expect(() => createBlobStore({ kind: 'filesystem', root: '/tmp/x' } as BlobStoreConfig)).toThrow(
      /secret/,
    );
    expect(() => createBlobStore({ kind: 's3', bucket: '' })).toThrow(/bucket/);
    expect(() => createBlobStore({ kind: 's3', bucket: 'b', accessKeyId: 'AKID' })).toThrow(
      /secretAccessKey/,
    );
    expect(() => createBlobStore({ kind: 's3', bucket: 'b', endpoint: 'not a url' })).toThrow(/endpoint/);
    expect(() => createBlobStore({ kind: 'azure' } as unknown as BlobStoreConfig)).toThrow(/"azure"/);
  });
});
