import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authClient, makeClient } from '../../helpers/clients.ts';
import { newTaskId, queueClient } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';
import { createAndClaim, freshNamespace, fromNow, indexClient } from './helpers.ts';

let ty: TestTaskyard;
beforeAll(async () => {
  ty = await startTestTaskyard();
  // Artifacts under public/ are readable by anyone (before the index first asks what anonymous may do).
  await authClient(ty, ty.root).createRole('anonymous', {
    description: 'what requests without credentials may do',
    scopes: ['queue:get-artifact:public/*'],
  });
});
afterAll(async () => ty?.stop());

const DAY = 86400e3;

async function indexAt(path: string, taskId = newTaskId()): Promise<string> {
  await indexClient(ty).insertTask(path, { taskId, rank: 1, data: {}, expires: fromNow(ty, DAY) });
  return taskId;
}

/** GET without following redirects. */
const get = (url: string) => fetch(url, { redirect: 'manual' });

describe('redirecting to artifacts of indexed tasks', () => {
  it("redirects (303) to the queue's latest-artifact URL, signed for a private artifact", async () => {
    const path = `${freshNamespace()}.my.name.space`;
    const taskId = await indexAt(path);
    const index = indexClient(ty);
    const res = await get(index.buildSignedUrl(index.findArtifactFromTask, path, 'not-public/abc.zip'));
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    expect(location.replace(/bewit=.*/, 'bewit=xyz')).toBe(
      `${ty.rootUrl}/api/queue/v1/task/${taskId}/artifacts/not-public%2Fabc.zip?bewit=xyz`,
    );
  });

  it('redirects to the plain URL for a public artifact, with or without credentials', async () => {
    const path = `${freshNamespace()}.public`;
    const taskId = await indexAt(path);
    const index = indexClient(ty);
    const plain = `${ty.rootUrl}/api/queue/v1/task/${taskId}/artifacts/public%2Fbuild%2Ftarget.zip`;
    const anonymous = await get(index.buildUrl(index.findArtifactFromTask, path, 'public/build/target.zip'));
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe(plain);
    const signed = await get(
      index.buildSignedUrl(index.findArtifactFromTask, path, 'public/build/target.zip'),
    );
    expect(signed.headers.get('location')).toBe(plain);
    // The official client answers the 303 without following it.
    expect(await index.findArtifactFromTask(path, 'public/build/target.zip')).toEqual({ url: plain });
  });

  it('needs queue:get-artifact:<name>, and answers 404 when nothing is indexed at the path', async () => {
    const path = `${freshNamespace()}.private`;
    await indexAt(path);
    const creds = await makeClient(ty, `index/reader-${freshNamespace()}`, ['queue:get-artifact:logs/*']);
    const index = indexClient(ty, creds);
    expect((await get(index.buildSignedUrl(index.findArtifactFromTask, path, 'logs/live.log'))).status).toBe(
      303,
    );
    expect((await get(index.buildSignedUrl(index.findArtifactFromTask, path, 'secret/key'))).status).toBe(
      403,
    );
    expect((await get(index.buildUrl(index.findArtifactFromTask, path, 'secret/key'))).status).toBe(403);
    const missing = await get(
      index.buildSignedUrl(index.findArtifactFromTask, `${path}.nothing`, 'logs/live.log'),
    );
    expect(missing.status).toBe(404);
    const bad = await get(index.buildSignedUrl(index.findArtifactFromTask, `${path}..x`, 'logs/live.log'));
    expect(bad.status).toBe(400);
  });

  it('leads, through the signed redirect, to the artifact of the latest run', async () => {
    const path = `${freshNamespace()}.built`;
    const { taskId, credentials } = await createAndClaim(ty, {});
    await queueClient(ty, credentials).createArtifact(taskId, 0, 'private/report.html', {
      storageType: 'reference',
      expires: fromNow(ty, DAY),
      url: 'https://example.com/report.html',
      contentType: 'text/html',
    });
    await indexAt(path, taskId);
    const index = indexClient(ty);
    const first = await get(index.buildSignedUrl(index.findArtifactFromTask, path, 'private/report.html'));
    expect(first.status).toBe(303);
    const second = await get(first.headers.get('location')!);
    expect(second.status).toBe(303);
    expect(second.headers.get('location')).toBe('https://example.com/report.html');
  });
});
