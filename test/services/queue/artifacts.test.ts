import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from '@20minutes/s3rver';
import hawk from 'hawk';
import pino from 'pino';
import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, configDefaults, loadConfig } from '../../../src/platform/config.ts';
import type { Database } from '../../../src/platform/db/index.ts';
import { type DeliveredMessage, InProcessBus } from '../../../src/platform/events/index.ts';
import { createTaskyard } from '../../../src/server.ts';
import { authClient, makeClient, rejection } from '../../helpers/clients.ts';
import { newTaskId, queueClient, taskDef } from '../../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

const HOUR = 3600_000;
const MINUTE = 60_000;

let ty: TestTaskyard;
const events: DeliveredMessage[] = [];
beforeAll(async () => {
  ty = await startTestTaskyard();
  await ty.bus.consume({
    queueName: 'artifacts-test',
    bindings: [{ exchange: 'exchange/taskcluster-queue/v1/artifact-created', pattern: '#' }],
    handler: async (m) => {
      events.push(m);
    },
  });
});
afterAll(async () => ty?.stop());

const flush = async (t: TestTaskyard = ty) => {
  await t.taskyard.relay.drainOnce();
  await new Promise((r) => setTimeout(r, 50));
};

const inHours = (t: TestTaskyard, h: number) => new Date(t.clock.now.getTime() + h * HOUR).toJSON();

/** Puts a run into the running state, as claimWork would (workerGroup wg, workerId wi). */
async function claimRun(t: TestTaskyard, taskId: string, runId: number): Promise<void> {
  const now = t.clock.now.getTime();
  const takenUntil = new Date(now + 2 * HOUR).toJSON();
  await t.testDb.db.query(
    `update queue_tasks set runs = jsonb_set(runs, array[$2::text], (runs -> $2::int) || $3::jsonb),
       taken_until = $4
     where task_id = $1`,
    [
      taskId,
      runId,
      JSON.stringify({
        state: 'running',
        workerGroup: 'wg',
        workerId: 'wi',
        takenUntil,
        started: new Date(now).toJSON(),
      }),
      takenUntil,
    ],
  );
  await t.testDb.db.query('delete from queue_pending where task_id = $1 and run_id = $2', [taskId, runId]);
}

/** A task whose run 0 is running. */
async function runningTask(t: TestTaskyard = ty): Promise<string> {
  const taskId = newTaskId();
  await queueClient(t).createTask(taskId, taskDef(t));
  await claimRun(t, taskId, 0);
  return taskId;
}

async function uploadAndDownload(t: TestTaskyard, name: string, bytes: Buffer, contentType: string) {
  const queue = queueClient(t);
  const taskId = await runningTask(t);
  const res = await queue.createArtifact(taskId, 0, name, {
    storageType: 's3',
    expires: inHours(t, 24),
    contentType,
  });
  expect(res).toMatchObject({ storageType: 's3', contentType });
  const putExpires = new Date(res.expires).getTime() - t.clock.now.getTime();
  expect(putExpires).toBeGreaterThan(40 * MINUTE);
  expect(putExpires).toBeLessThanOrEqual(46 * MINUTE);
  const put = await fetch(res.putUrl, {
    method: 'PUT',
    headers: { 'content-type': contentType },
    body: bytes,
  });
  expect(put.status).toBe(200);

  // The client answers the 303's body.
  const got = await queue.getArtifact(taskId, 0, name);
  expect(got.storageType).toBe('s3');
  const direct = await fetch(got.url);
  expect(direct.status).toBe(200);
  expect(Buffer.from(await direct.arrayBuffer()).equals(bytes)).toBe(true);

  // A signed URL, as for a browser: a 303 to the blob, which a plain HTTP client follows.
  const signed = queue.buildSignedUrl(queue.getArtifact, taskId, 0, name);
  const redirect = await fetch(signed, { redirect: 'manual' });
  expect(redirect.status).toBe(303);
  expect(redirect.headers.get('x-taskcluster-artifact-storage-type')).toBe('s3');
  expect(redirect.headers.get('location')).toMatch(/^http/);
  const followed = await fetch(signed);
  expect(followed.status).toBe(200);
  expect(followed.headers.get('content-type')).toBe(contentType);
  expect(Buffer.from(await followed.arrayBuffer()).equals(bytes)).toBe(true);

  // The latest run, and the artifact-content endpoints, lead to the same bytes.
  const latest = await fetch(queue.buildSignedUrl(queue.getLatestArtifact, taskId, name));
  expect(Buffer.from(await latest.arrayBuffer()).equals(bytes)).toBe(true);
  const content = await queue.artifact(taskId, 0, name);
  expect(content.storageType).toBe('s3');
  expect(Buffer.from(await (await fetch(content.url)).arrayBuffer()).equals(bytes)).toBe(true);
  expect((await queue.latestArtifact(taskId, name)).storageType).toBe('s3');

  expect(await queue.artifactInfo(taskId, 0, name)).toMatchObject({ storageType: 's3', name, contentType });
  return taskId;
}

describe('s3 artifacts', () => {
  it('uploads through the signed putUrl and downloads the same bytes through the redirect, on the filesystem store', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    await uploadAndDownload(ty, 'public/build/target.tar.gz', bytes, 'application/gzip');
  });

  it('sends no artifact-created message for an s3 artifact, as upstream (it is present at once)', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    await queue.createArtifact(taskId, 0, 'public/no-event.bin', {
      storageType: 's3',
      expires: inHours(ty, 24),
      contentType: 'application/octet-stream',
    });
    await flush();
    expect(
      events.filter((e) => (e.payload as { status: { taskId: string } }).status.taskId === taskId),
    ).toEqual([]);
    expect((await queue.listArtifacts(taskId, 0)).artifacts.map((a: { name: string }) => a.name)).toEqual([
      'public/no-event.bin',
    ]);
  });

  it('signs the upload for the content length when one is given, and reports it', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const res = await queue.createArtifact(taskId, 0, 'public/sized.txt', {
      storageType: 's3',
      expires: inHours(ty, 24),
      contentType: 'text/plain',
      contentLength: 5,
    });
    const wrong = await fetch(res.putUrl, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'too long',
    });
    expect(wrong.status).toBe(403);
    const put = await fetch(res.putUrl, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(put.status).toBe(200);
    expect(await queue.artifactInfo(taskId, 0, 'public/sized.txt')).toMatchObject({ contentLength: 5 });
  });

  it('accepts names holding raw slashes as well as URL-encoded ones', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    await queue.createArtifact(taskId, 0, 'public/dir/raw.txt', {
      storageType: 'error',
      expires: inHours(ty, 24),
      reason: 'file-missing-on-worker',
      message: 'gone',
    });
    const url = `${ty.rootUrl}/api/queue/v1/task/${taskId}/runs/0/artifact-info/public/dir/raw.txt`;
    const { header } = hawk.client.header(url, 'GET', {
      credentials: { id: ty.root.clientId, key: ty.root.accessToken, algorithm: 'sha256' },
    });
    const res = await fetch(url, { headers: { authorization: header } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'public/dir/raw.txt', storageType: 'error' });
  });
});

describe('s3 artifacts on an S3 blob store', () => {
  const BUCKET = 'taskyard-artifacts';
  let s3: S3rver;
  let directory: string;
  let tys: TestTaskyard;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'taskyard-artifacts-s3rver-'));
    s3 = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory,
      configureBuckets: [{ name: BUCKET }],
    });
    const { port } = await s3.run();
    tys = await startTestTaskyard({
      services: ['auth', 'queue'],
      config: {
        blobStore: 's3',
        s3Bucket: BUCKET,
        s3Prefix: 'deploy',
        s3Region: 'us-east-1',
        s3Endpoint: `http://127.0.0.1:${port}`,
        s3ForcePathStyle: true,
        s3AccessKeyId: 'S3RVER',
        s3SecretAccessKey: 'S3RVER',
      },
    });
  });
  afterAll(async () => {
    await tys?.stop();
    await s3?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('uploads through the presigned putUrl and downloads the same bytes through the redirect to S3', async () => {
    const bytes = randomBytes(512 * 1024 + 3);
    const taskId = await uploadAndDownload(
      tys,
      'public/logs/live_backing.log',
      bytes,
      'text/plain; charset=utf-8',
    );
    const got = await queueClient(tys).getArtifact(taskId, 0, 'public/logs/live_backing.log');
    expect(new URL(got.url).pathname).toBe(`/${BUCKET}/deploy/${taskId}/0/public/logs/live_backing.log`);
  });
});

describe('reference, link and error artifacts', () => {
  it('redirects to a reference with 303 and announces it', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const url = 'https://example.com/some/log.txt';
    expect(
      await queue.createArtifact(taskId, 0, 'public/ref.txt', {
        storageType: 'reference',
        expires: inHours(ty, 24),
        url,
        contentType: 'text/plain',
      }),
    ).toEqual({ storageType: 'reference' });
    expect(await queue.getArtifact(taskId, 0, 'public/ref.txt')).toEqual({ storageType: 'reference', url });
    const res = await fetch(queue.buildSignedUrl(queue.getArtifact, taskId, 0, 'public/ref.txt'), {
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(url);
    expect(res.headers.get('x-taskcluster-artifact-storage-type')).toBe('reference');
    expect(await queue.artifact(taskId, 0, 'public/ref.txt')).toEqual({ storageType: 'reference', url });

    await flush();
    const mine = events.filter((e) => (e.payload as { status: { taskId: string } }).status.taskId === taskId);
    expect(mine).toHaveLength(1);
    expect(mine[0].routingKey).toMatch(new RegExp(`^primary\\.${taskId}\\.0\\.wg\\.wi\\.`));
    expect(mine[0].payload).toMatchObject({
      version: 1,
      runId: 0,
      workerGroup: 'wg',
      workerId: 'wi',
      artifact: { storageType: 'reference', name: 'public/ref.txt', contentType: 'text/plain' },
    });
    expect(mine[0].payload).not.toHaveProperty('task');
  });

  it('follows links, needing the scope of every name along the chain', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const res = await queue.createArtifact(taskId, 0, 'private/target.txt', {
      storageType: 's3',
      expires: inHours(ty, 24),
      contentType: 'text/plain',
    });
    await fetch(res.putUrl, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'linked bytes',
    });
    await queue.createArtifact(taskId, 0, 'public/link.txt', {
      storageType: 'link',
      expires: inHours(ty, 24),
      artifact: 'private/target.txt',
    });
    await queue.createArtifact(taskId, 0, 'public/link-to-link.txt', {
      storageType: 'link',
      expires: inHours(ty, 24),
      artifact: 'public/link.txt',
    });
    const got = await queue.getArtifact(taskId, 0, 'public/link-to-link.txt');
    expect(got.storageType).toBe('s3');
    expect(await (await fetch(got.url)).text()).toBe('linked bytes');
    expect((await queue.artifact(taskId, 0, 'public/link.txt')).storageType).toBe('s3');
    expect(await queue.artifactInfo(taskId, 0, 'public/link.txt')).toMatchObject({
      storageType: 'link',
      contentType: 'application/binary',
    });

    const onlyPublic = queueClient(
      ty,
      await makeClient(ty, 'art-public-only', ['queue:get-artifact:public/*']),
    );
    const err = await rejection(onlyPublic.getArtifact(taskId, 0, 'public/link.txt'));
    expect(err.statusCode).toBe(403);
    expect(err.message).toMatch(/queue:get-artifact:private\/target\.txt/);
    const both = queueClient(
      ty,
      await makeClient(ty, 'art-both', [
        'queue:get-artifact:public/*',
        'queue:get-artifact:private/target.txt',
      ]),
    );
    expect((await both.getArtifact(taskId, 0, 'public/link.txt')).storageType).toBe('s3');
  });

  it('refuses a link to a missing artifact, to itself, or one that closes a cycle, changing nothing', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const expires = inHours(ty, 24);
    const missing = await rejection(
      queue.createArtifact(taskId, 0, 'public/dangling', {
        storageType: 'link',
        expires,
        artifact: 'public/nope',
      }),
    );
    expect(missing.statusCode).toBe(400);
    expect(missing.message).toMatch(/does not exist/);
    const self = await rejection(
      queue.createArtifact(taskId, 0, 'public/self', {
        storageType: 'link',
        expires,
        artifact: 'public/self',
      }),
    );
    expect(self.statusCode).toBe(400);
    expect(self.message).toMatch(/cycle/);

    const url = 'https://example.com/a';
    await queue.createArtifact(taskId, 0, 'public/a', {
      storageType: 'reference',
      expires,
      url,
      contentType: 'text/plain',
    });
    await queue.createArtifact(taskId, 0, 'public/b', { storageType: 'link', expires, artifact: 'public/a' });
    // A reference may become a link, but not one leading back to itself.
    const cycle = await rejection(
      queue.createArtifact(taskId, 0, 'public/a', { storageType: 'link', expires, artifact: 'public/b' }),
    );
    expect(cycle.statusCode).toBe(400);
    expect(cycle.message).toMatch(/cycle/);
    expect(await queue.getArtifact(taskId, 0, 'public/b')).toEqual({ storageType: 'reference', url });
    expect((await queue.listArtifacts(taskId, 0)).artifacts.map((a: { name: string }) => a.name)).toEqual([
      'public/a',
      'public/b',
    ]);
  });

  it('answers 424 with the reason for an error artifact, and the reason as content', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const def = {
      storageType: 'error',
      expires: inHours(ty, 24),
      reason: 'file-missing-on-worker',
      message: 'no such file: build/out.zip',
    };
    expect(await queue.createArtifact(taskId, 0, 'public/out.zip', def)).toEqual({ storageType: 'error' });
    const err = await rejection(queue.getArtifact(taskId, 0, 'public/out.zip'));
    expect(err.statusCode).toBe(424);
    expect(err.body).toEqual({ reason: 'file-missing-on-worker', message: 'no such file: build/out.zip' });
    expect((await rejection(queue.getLatestArtifact(taskId, 'public/out.zip'))).statusCode).toBe(424);
    expect(await queue.artifact(taskId, 0, 'public/out.zip')).toEqual({
      storageType: 'error',
      reason: 'file-missing-on-worker',
      message: 'no such file: build/out.zip',
    });
    await flush();
    expect(
      events.some(
        (e) =>
          (e.payload as { status: { taskId: string } }).status.taskId === taskId &&
          (e.payload as { artifact: { storageType: string } }).artifact.storageType === 'error',
      ),
    ).toBe(true);
  });
});

describe('reading artifacts', () => {
  it('needs the artifact scope for a private artifact', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const def = {
      storageType: 'reference',
      expires: inHours(ty, 24),
      url: 'https://example.com/s',
      contentType: 'text/plain',
    };
    await queue.createArtifact(taskId, 0, 'private/secret.txt', def);
    const without = queueClient(ty, await makeClient(ty, 'art-reader-none', ['queue:get-artifact:public/*']));
    expect((await rejection(without.getArtifact(taskId, 0, 'private/secret.txt'))).statusCode).toBe(403);
    expect((await rejection(without.artifact(taskId, 0, 'private/secret.txt'))).statusCode).toBe(403);
    // 403 comes before 404: nothing is told about what the caller may not read.
    expect((await rejection(without.getLatestArtifact(newTaskId(), 'private/secret.txt'))).statusCode).toBe(
      403,
    );
    const withScope = queueClient(
      ty,
      await makeClient(ty, 'art-reader-private', ['queue:get-artifact:private/*']),
    );
    expect((await withScope.getArtifact(taskId, 0, 'private/secret.txt')).url).toBe('https://example.com/s');
  });

  it('lets anyone read public artifacts once the anonymous role grants queue:get-artifact:public/*', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const def = {
      storageType: 'reference',
      expires: inHours(ty, 24),
      url: 'https://example.com/p',
      contentType: 'text/plain',
    };
    await queue.createArtifact(taskId, 0, 'public/open.txt', def);
    await queue.createArtifact(taskId, 0, 'private/closed.txt', def);
    const anonymous = new taskcluster.Queue({ rootUrl: ty.rootUrl, retries: 0 });
    expect((await rejection(anonymous.getArtifact(taskId, 0, 'public/open.txt'))).statusCode).toBe(403);

    await authClient(ty, ty.root).createRole('anonymous', {
      description: 'what anyone may do',
      scopes: ['queue:get-artifact:public/*'],
    });
    expect(await anonymous.getArtifact(taskId, 0, 'public/open.txt')).toEqual({
      storageType: 'reference',
      url: 'https://example.com/p',
    });
    const res = await fetch(anonymous.buildUrl(anonymous.getArtifact, taskId, 0, 'public/open.txt'), {
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('https://example.com/p');
    expect((await rejection(anonymous.getArtifact(taskId, 0, 'private/closed.txt'))).statusCode).toBe(403);
  });

  it('answers 404 for missing artifacts, tasks and runs, and 410 for an expired artifact', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    expect((await rejection(queue.getArtifact(taskId, 0, 'public/none'))).statusCode).toBe(404);
    expect((await rejection(queue.artifactInfo(taskId, 0, 'public/none'))).statusCode).toBe(404);
    expect((await rejection(queue.getLatestArtifact(newTaskId(), 'public/none'))).statusCode).toBe(404);
    expect((await rejection(queue.latestArtifactInfo(newTaskId(), 'public/none'))).statusCode).toBe(404);
    expect((await rejection(queue.listLatestArtifacts(newTaskId()))).statusCode).toBe(404);
    expect((await rejection(queue.listArtifacts(newTaskId(), 0))).statusCode).toBe(404);
    const beyond = await rejection(queue.listArtifacts(taskId, 1));
    expect(beyond.statusCode).toBe(404);
    expect(beyond.message).toMatch(/has no run with runId: 1/);
    const unscheduled = newTaskId();
    await queue.createTask(unscheduled, taskDef(ty, { dependencies: [unscheduled] }));
    const noRuns = await rejection(queue.listLatestArtifacts(unscheduled));
    expect(noRuns.statusCode).toBe(404);
    expect(noRuns.message).toMatch(/doesn't have any runs/);

    // Expired but not yet swept: 410 for reads, while its information is still there.
    await ty.testDb.db.query(
      `insert into queue_artifacts (task_id, run_id, name, storage_type, content_type, details, present, expires)
       values ($1, 0, 'public/old', 'reference', 'text/plain', '{"url":"https://example.com/old"}', true, $2)`,
      [taskId, new Date(ty.clock.now.getTime() - MINUTE)],
    );
    expect((await rejection(queue.getArtifact(taskId, 0, 'public/old'))).statusCode).toBe(410);
    expect((await queue.artifactInfo(taskId, 0, 'public/old')).name).toBe('public/old');
  });

  it('lists the artifacts of a run by name, a page at a time', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const names = ['public/e', 'public/a', 'public/c/x', 'public/b', 'public/d'];
    for (const name of names) {
      await queue.createArtifact(taskId, 0, name, {
        storageType: 'error',
        expires: inHours(ty, 24),
        reason: 'file-missing-on-worker',
        message: name,
      });
    }
    const seen: string[] = [];
    const pages: number[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await queue.listArtifacts(taskId, 0, {
        limit: 2,
        ...(continuationToken ? { continuationToken } : {}),
      });
      pages.push(page.artifacts.length);
      seen.push(...page.artifacts.map((a: { name: string }) => a.name));
      continuationToken = page.continuationToken;
    } while (continuationToken);
    expect(pages).toEqual([2, 2, 1]);
    expect(seen).toEqual([...names].sort());
    const all = await queue.listLatestArtifacts(taskId);
    expect(all.continuationToken).toBeUndefined();
    expect(all.artifacts[0]).toEqual({
      storageType: 'error',
      name: 'public/a',
      expires: expect.any(String),
      contentType: 'application/binary',
    });
    expect(all.artifacts).toHaveLength(5);
  });

  it('reads the latest run with the latest* variants after a second run', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const def = (url: string) => ({
      storageType: 'reference',
      expires: inHours(ty, 24),
      url,
      contentType: 'text/plain',
    });
    await queue.createArtifact(taskId, 0, 'public/report.txt', def('https://example.com/run0'));
    await queue.createArtifact(taskId, 0, 'public/only-run0.txt', def('https://example.com/only0'));
    await queue.cancelTask(taskId);
    await queue.rerunTask(taskId);
    await claimRun(ty, taskId, 1);
    await queue.createArtifact(taskId, 1, 'public/report.txt', def('https://example.com/run1'));

    expect((await queue.getLatestArtifact(taskId, 'public/report.txt')).url).toBe('https://example.com/run1');
    expect((await queue.latestArtifact(taskId, 'public/report.txt')).url).toBe('https://example.com/run1');
    expect(await queue.latestArtifactInfo(taskId, 'public/report.txt')).toMatchObject({
      name: 'public/report.txt',
    });
    expect((await queue.getArtifact(taskId, 0, 'public/report.txt')).url).toBe('https://example.com/run0');
    expect((await queue.listLatestArtifacts(taskId)).artifacts.map((a: { name: string }) => a.name)).toEqual([
      'public/report.txt',
    ]);
    expect((await rejection(queue.getLatestArtifact(taskId, 'public/only-run0.txt'))).statusCode).toBe(404);
    const latestUrl = queue.buildUrl(queue.getLatestArtifact, taskId, 'public/report.txt');
    expect(latestUrl).toBe(`${ty.rootUrl}/api/queue/v1/task/${taskId}/artifacts/public%2Freport.txt`);
  });
});

describe('creating artifacts', () => {
  it('refuses path tricks in names with 400, creating nothing and writing no file', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const root = ty.config.blobRoot!;
    const before = await readdir(root, { recursive: true }).catch(() => []);
    for (const name of ['../x', 'a/../../b', '/abs', 'a//b', 'a/./b', 'public/', 'a\\b']) {
      for (const storageType of ['s3', 'error']) {
        const def =
          storageType === 's3'
            ? { storageType, expires: inHours(ty, 24), contentType: 'text/plain' }
            : { storageType, expires: inHours(ty, 24), reason: 'file-missing-on-worker', message: 'x' };
        const err = await rejection(queue.createArtifact(taskId, 0, name, def));
        expect(err.statusCode, `${storageType} ${name}`).toBe(400);
        expect(err.message).toMatch(/artifact name/);
      }
    }
    expect((await queue.listArtifacts(taskId, 0)).artifacts).toEqual([]);
    expect(await readdir(root, { recursive: true }).catch(() => [])).toEqual(before);
    const { rows } = await ty.testDb.db.query(
      'select count(*)::int as n from queue_artifacts where task_id = $1',
      [taskId],
    );
    expect(rows[0].n).toBe(0);
  });

  it('refuses an expires after the task expires, or in the past', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const { expires } = await queue.task(taskId);
    const later = new Date(new Date(expires).getTime() + MINUTE).toJSON();
    const def = { storageType: 'reference', url: 'https://example.com', contentType: 'text/plain' };
    const err = await rejection(queue.createArtifact(taskId, 0, 'public/late', { ...def, expires: later }));
    expect(err.statusCode).toBe(400);
    expect(err.message).toMatch(/after the task expiration/);
    const past = new Date(ty.clock.now.getTime() - HOUR).toJSON();
    expect(
      (await rejection(queue.createArtifact(taskId, 0, 'public/late', { ...def, expires: past }))).statusCode,
    ).toBe(400);
    expect(await queue.createArtifact(taskId, 0, 'public/late', { ...def, expires })).toEqual({
      storageType: 'reference',
    });
  });

  it('answers 200 to the same definition again and 409 to a conflicting one', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const expires = inHours(ty, 24);
    const s3 = { storageType: 's3', expires, contentType: 'text/plain' };
    const first = await queue.createArtifact(taskId, 0, 'public/same.txt', s3);
    const again = await queue.createArtifact(taskId, 0, 'public/same.txt', s3);
    expect(again).toMatchObject({ storageType: 's3', contentType: 'text/plain' });
    expect(typeof first.putUrl).toBe('string');
    const conflicts = [
      { ...s3, contentType: 'text/html' },
      { ...s3, expires: inHours(ty, 12) },
      { storageType: 'reference', expires, url: 'https://example.com', contentType: 'text/plain' },
    ];
    for (const def of conflicts) {
      expect((await rejection(queue.createArtifact(taskId, 0, 'public/same.txt', def))).statusCode).toBe(409);
    }
    // A later expires extends the artifact.
    const extended = inHours(ty, 48);
    await queue.createArtifact(taskId, 0, 'public/same.txt', { ...s3, expires: extended });
    expect((await queue.artifactInfo(taskId, 0, 'public/same.txt')).expires).toBe(extended);

    const error = { storageType: 'error', expires, reason: 'file-missing-on-worker', message: 'm' };
    await queue.createArtifact(taskId, 0, 'public/err', error);
    expect(await queue.createArtifact(taskId, 0, 'public/err', error)).toEqual({ storageType: 'error' });
    expect(
      (await rejection(queue.createArtifact(taskId, 0, 'public/err', { ...error, message: 'other' })))
        .statusCode,
    ).toBe(409);

    // A reference may point elsewhere, or become a link.
    const ref = {
      storageType: 'reference',
      expires,
      url: 'https://example.com/1',
      contentType: 'text/plain',
    };
    await queue.createArtifact(taskId, 0, 'public/ref', ref);
    await queue.createArtifact(taskId, 0, 'public/ref', { ...ref, url: 'https://example.com/2' });
    expect((await queue.getArtifact(taskId, 0, 'public/ref')).url).toBe('https://example.com/2');
    await queue.createArtifact(taskId, 0, 'public/ref', {
      storageType: 'link',
      expires,
      artifact: 'public/err',
    });
    expect((await rejection(queue.getArtifact(taskId, 0, 'public/ref'))).statusCode).toBe(424);
  });

  it('takes artifacts only from a claimed run that is running or just resolved as exception', async () => {
    const queue = queueClient(ty);
    const def = {
      storageType: 'reference',
      expires: inHours(ty, 24),
      url: 'https://example.com',
      contentType: 'text/plain',
    };
    const missing = await rejection(queue.createArtifact(newTaskId(), 0, 'public/x', def));
    expect(missing.statusCode).toBe(400);
    expect(missing.message).toMatch(/not found/);

    const pending = newTaskId();
    await queue.createTask(pending, taskDef(ty));
    const unclaimed = await rejection(queue.createArtifact(pending, 0, 'public/x', def));
    expect(unclaimed.statusCode).toBe(400);
    expect(unclaimed.message).toMatch(/not claimed/);
    expect((await rejection(queue.createArtifact(pending, 1, 'public/x', def))).statusCode).toBe(400);

    const completed = await runningTask();
    await ty.testDb.db.query(
      `update queue_tasks set runs = jsonb_set(runs, '{0}', (runs -> 0) || $2::jsonb) where task_id = $1`,
      [
        completed,
        JSON.stringify({ state: 'completed', reasonResolved: 'completed', resolved: ty.clock.now.toJSON() }),
      ],
    );
    const done = await rejection(queue.createArtifact(completed, 0, 'public/x', def));
    expect(done.statusCode).toBe(409);

    const canceled = await runningTask();
    await queue.cancelTask(canceled);
    await queue.createArtifact(canceled, 0, 'public/after-cancel', def);
    // Resolved 26 minutes ago: too late.
    await ty.testDb.db.query(
      `update queue_tasks set runs = jsonb_set(runs, '{0,resolved}', to_jsonb($2::text)) where task_id = $1`,
      [canceled, new Date(ty.clock.now.getTime() - 26 * MINUTE).toJSON()],
    );
    const late = await rejection(queue.createArtifact(canceled, 0, 'public/too-late', def));
    expect(late.statusCode).toBe(409);
  });

  it('explains that object artifacts are not supported, and that only they can be finished', async () => {
    const queue = queueClient(ty);
    const taskId = await runningTask();
    const expires = inHours(ty, 24);
    const object = await rejection(
      queue.createArtifact(taskId, 0, 'public/obj', {
        storageType: 'object',
        expires,
        contentType: 'text/plain',
      }),
    );
    expect(object.statusCode).toBe(400);
    expect(object.message).toMatch(/"s3".*"reference", "link" or "error"/);
    await queue.createArtifact(taskId, 0, 'public/file', {
      storageType: 's3',
      expires,
      contentType: 'text/plain',
    });
    const uploadId = newTaskId();
    const finish = await rejection(queue.finishArtifact(taskId, 0, 'public/file', { uploadId }));
    expect(finish.statusCode).toBe(400);
    expect(finish.message).toMatch(/Only object artifacts can be finished/);
    expect((await rejection(queue.finishArtifact(taskId, 0, 'public/none', { uploadId }))).statusCode).toBe(
      404,
    );
  });

  it('needs queue:create-artifact:<taskId>/<runId>', async () => {
    const taskId = await runningTask();
    const def = {
      storageType: 'reference',
      expires: inHours(ty, 24),
      url: 'https://example.com',
      contentType: 'text/plain',
    };
    const other = queueClient(
      ty,
      await makeClient(ty, 'art-writer-other', [`queue:create-artifact:${taskId}/1`]),
    );
    expect((await rejection(other.createArtifact(taskId, 0, 'public/x', def))).statusCode).toBe(403);
    const worker = queueClient(ty, await makeClient(ty, 'art-writer', [`queue:create-artifact:${taskId}/0`]));
    expect(await worker.createArtifact(taskId, 0, 'public/x', def)).toEqual({ storageType: 'reference' });
  });
});

describe('blob store configuration', () => {
  it('reads the blob store settings from the environment', () => {
    const config = loadConfig({
      TASKYARD_BLOB_STORE: 's3',
      TASKYARD_S3_BUCKET: 'b',
      TASKYARD_S3_PREFIX: 'p',
      TASKYARD_S3_ENDPOINT: 'http://minio:9000',
      TASKYARD_S3_FORCE_PATH_STYLE: 'true',
      TASKYARD_S3_ACCESS_KEY_ID: 'id',
      TASKYARD_S3_SECRET_ACCESS_KEY: 'secret',
      AWS_REGION: 'eu-west-1',
    });
    expect(config).toMatchObject({
      blobStore: 's3',
      s3Bucket: 'b',
      s3Prefix: 'p',
      s3Endpoint: 'http://minio:9000',
      s3ForcePathStyle: true,
      s3AccessKeyId: 'id',
      s3SecretAccessKey: 'secret',
      s3Region: 'eu-west-1',
    });
    expect(() => loadConfig({ TASKYARD_BLOB_STORE: 'ftp' })).toThrow(/blobStore/);
  });

  it('refuses to start a filesystem store without a signing secret, or s3 without a bucket', async () => {
    const start = (config: Partial<Config>) =>
      createTaskyard({
        config: { ...configDefaults, ...config },
        services: ['queue'],
        // Never reached: the blob store is checked first.
        database: {} as Database,
        bus: new InProcessBus(),
        logger: pino({ level: 'silent' }),
      });
    await expect(start({ blobStore: 'filesystem', blobRoot: join(tmpdir(), 'unused') })).rejects.toThrow(
      /blobSecret/,
    );
    await expect(start({ blobStore: 's3' })).rejects.toThrow(/s3Bucket/);
  });
});
