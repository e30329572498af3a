import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestTaskyard, type TestTaskyard } from '../helpers/taskyard.ts';
import { makeTarGz, makeZip } from './archives.ts';
import { artifactText, backingLog, createTask, startWorker, type TestWorker, waitForRun } from './helpers.ts';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const cat = (files: string[]) => [['/bin/sh', '-c', `cat ${files.join(' ')} > all.txt`]];
const allTxt = [{ type: 'file', path: 'all.txt', name: 'public/all.txt' }];

describe('worker mounts, caches and inputs', () => {
  let ty: TestTaskyard;
  let w: TestWorker;
  let server: Server;
  let serverUrl: string;
  const served = new Map<string, Buffer>();
  beforeAll(async () => {
    ty = await startTestTaskyard({ realClock: true });
    w = await startWorker(ty, { capacity: 2 });
    // As deployments do: public artifacts are readable by anyone (task credentials included).
    await new taskcluster.Auth({ rootUrl: ty.rootUrl, credentials: ty.root, retries: 0 }).createRole(
      'anonymous',
      {
        scopes: ['queue:get-artifact:public/*', 'index:find-task:*', 'queue:get-task:*', 'queue:status:*'],
        description: 'public artifacts',
      },
    );
    server = createServer((req, res) => {
      const body = served.get(req.url ?? '');
      res.writeHead(body ? 200 : 404).end(body ?? 'not here');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => {
    server?.close();
    await w?.stop();
    await ty?.stop();
  });

  it('mounts files from raw, base64 and a URL, checking sha256', async () => {
    served.set('/file.txt', Buffer.from('from url\n'));
    const taskId = await createTask(ty, w, {
      command: cat(['a.txt', 'sub/b.txt', 'c.txt']),
      maxRunTime: 60,
      mounts: [
        { file: 'a.txt', content: { raw: 'from raw\n', sha256: sha('from raw\n') } },
        { file: 'sub/b.txt', content: { base64: Buffer.from('from base64\n').toString('base64') } },
        { file: 'c.txt', content: { url: `${serverUrl}/file.txt`, sha256: sha('from url\n') } },
      ],
      artifacts: allTxt,
    });
    const status = await waitForRun(ty, taskId);
    expect(status.runs[0].state).toBe('completed');
    expect(await artifactText(ty, taskId, 0, 'public/all.txt')).toBe('from raw\nfrom base64\nfrom url\n');
  }, 120_000);

  it('fails the run with a clear line when the sha256 does not match', async () => {
    const taskId = await createTask(ty, w, {
      command: [['/bin/true']],
      maxRunTime: 60,
      mounts: [{ file: 'a.txt', content: { raw: 'x', sha256: sha('y') } }],
    });
    const status = await waitForRun(ty, taskId);
    expect(status.runs[0].state).toBe('failed');
    expect(await backingLog(ty, taskId)).toMatch(
      /sha256 mismatch for raw content: expected [0-9a-f]{64}, got/,
    );
  }, 120_000);

  it('unpacks tar.gz and zip read-only directories', async () => {
    served.set('/t.tar.gz', await makeTarGz(w.dir, { 'x.txt': 'tar x\n', 'deep/y.txt': 'tar y\n' }));
    served.set(
      '/z.zip',
      makeZip([
        { name: 'z.txt', data: 'zip z\n' },
        { name: 'd/w.txt', data: 'zip w\n' },
      ]),
    );
    const taskId = await createTask(ty, w, {
      command: cat(['t/x.txt', 't/deep/y.txt', 'z/z.txt', 'z/d/w.txt']),
      maxRunTime: 60,
      mounts: [
        { directory: 't', content: { url: `${serverUrl}/t.tar.gz` }, format: 'tar.gz' },
        { directory: 'z', content: { url: `${serverUrl}/z.zip` }, format: 'zip' },
      ],
      artifacts: allTxt,
    });
    const status = await waitForRun(ty, taskId);
    expect(status.runs[0].state).toBe('completed');
    expect(await artifactText(ty, taskId, 0, 'public/all.txt')).toBe('tar x\ntar y\nzip z\nzip w\n');
  }, 120_000);

  it('refuses archives whose entries leave the directory (tar.gz and zip)', async () => {
    served.set('/evil.tar.gz', await makeTarGz(w.dir, { '../escaped.txt': 'evil' }));
    served.set('/evil.zip', makeZip([{ name: '../escaped.txt', data: 'evil' }]));
    for (const [path, format] of [
      ['/evil.tar.gz', 'tar.gz'],
      ['/evil.zip', 'zip'],
    ]) {
      const taskId = await createTask(ty, w, {
        command: [['/bin/true']],
        maxRunTime: 60,
        mounts: [{ directory: 'sub/dir', content: { url: `${serverUrl}${path}` }, format }],
      });
      const status = await waitForRun(ty, taskId);
      expect(status.runs[0].state).toBe('failed');
      expect(await backingLog(ty, taskId)).toMatch(/archive has entries that leave its directory/);
    }
  }, 120_000);

  it('refuses a mount path outside the task directory as malformed-payload', async () => {
    const taskId = await createTask(ty, w, {
      command: [['/bin/true']],
      maxRunTime: 60,
      mounts: [{ file: '../../outside.txt', content: { raw: 'x' } }],
    });
    const status = await waitForRun(ty, taskId);
    expect(status.runs[0]).toMatchObject({ state: 'exception', reasonResolved: 'malformed-payload' });
    expect(await backingLog(ty, taskId)).toMatch(
      /mount path "..\/..\/outside.txt" is outside the task directory/,
    );
  }, 120_000);

  it('mounts artifacts by taskId and by index namespace, and feeds inputs from dependencies', async () => {
    const producer = await createTask(
      ty,
      w,
      {
        command: [['/bin/sh', '-c', 'mkdir -p o; echo produced > o/tool.txt']],
        maxRunTime: 60,
        artifacts: [{ type: 'file', path: 'o/tool.txt', name: 'public/tool.txt' }],
      },
      {
        metadata: { name: 'build', description: 'd', owner: 'o@example.com', source: 'https://example.com' },
      },
    );
    expect((await waitForRun(ty, producer)).runs[0].state).toBe('completed');
    const index = new taskcluster.Index({ rootUrl: ty.rootUrl, credentials: ty.root, retries: 0 });
    await index.insertTask('test.worker.tool', {
      taskId: producer,
      rank: 0,
      data: {},
      expires: new Date(Date.now() + 3600_000).toJSON(),
    });
    const consumer = await createTask(
      ty,
      w,
      {
        command: cat(['by-task.txt', 'by-index.txt', 'in/by-name.txt', 'by-id.txt']),
        maxRunTime: 60,
        mounts: [
          { file: 'by-task.txt', content: { taskId: producer, artifact: 'public/tool.txt' } },
          { file: 'by-index.txt', content: { namespace: 'test.worker.tool', artifact: 'public/tool.txt' } },
        ],
        inputs: [
          { from: 'build', artifact: 'public/tool.txt', path: 'in/by-name.txt' },
          { from: producer, artifact: 'public/tool.txt', path: 'by-id.txt' },
        ],
        artifacts: allTxt,
      },
      { dependencies: [producer] },
    );
    const status = await waitForRun(ty, consumer);
    expect(status.runs[0].state, await backingLog(ty, consumer)).toBe('completed');
    expect(await artifactText(ty, consumer, 0, 'public/all.txt')).toBe('produced\n'.repeat(4));

    const missing = await createTask(
      ty,
      w,
      {
        command: [['/bin/true']],
        maxRunTime: 60,
        inputs: [{ from: 'build', artifact: 'public/nope.txt', path: 'x' }],
      },
      { dependencies: [producer] },
    );
    expect((await waitForRun(ty, missing)).runs[0].state).toBe('failed');
    expect(await backingLog(ty, missing)).toMatch(
      new RegExp(`input public/nope.txt from task ${producer} run 0: .*HTTP 404`),
    );
  }, 120_000);

  it('reuses a cache across tasks, purges it after a purge request, and needs the cache scope', async () => {
    const scopes = ['generic-worker:cache:counter'];
    const payload = {
      command: [['/bin/sh', '-c', 'echo x >> cache/count; wc -l < cache/count > n.txt']],
      maxRunTime: 60,
      mounts: [{ directory: 'cache', cacheName: 'counter' }],
      artifacts: [{ type: 'file', path: 'n.txt', name: 'public/n.txt' }],
    };
    const count = async () => {
      const taskId = await createTask(ty, w, payload, { scopes });
      expect((await waitForRun(ty, taskId)).runs[0].state).toBe('completed');
      return (await artifactText(ty, taskId, 0, 'public/n.txt')).trim();
    };
    expect(await count()).toBe('1');
    expect(await count()).toBe('2');
    const purge = new taskcluster.PurgeCache({ rootUrl: ty.rootUrl, credentials: ty.root, retries: 0 });
    await new Promise((r) => setTimeout(r, 20));
    await purge.purgeCache(w.config.taskQueueId, { cacheName: 'counter' });
    expect(await count()).toBe('1');

    const noScope = await createTask(ty, w, payload);
    const status = await waitForRun(ty, noScope);
    expect(status.runs[0]).toMatchObject({ state: 'exception', reasonResolved: 'malformed-payload' });
    expect(await backingLog(ty, noScope)).toMatch(/lacks the scope generic-worker:cache:counter/);
  }, 120_000);

  it('purges the caches after a task exits with an onExitStatus.purgeCaches code', async () => {
    const scopes = ['generic-worker:cache:purged'];
    const mounts = [{ directory: 'c', cacheName: 'purged' }];
    const first = await createTask(
      ty,
      w,
      {
        command: [['/bin/sh', '-c', 'touch c/marker; exit 5']],
        maxRunTime: 60,
        mounts,
        onExitStatus: { purgeCaches: [5] },
      },
      { scopes },
    );
    expect((await waitForRun(ty, first)).runs[0].state).toBe('failed');
    const second = await createTask(
      ty,
      w,
      { command: [['/bin/sh', '-c', 'test ! -e c/marker']], maxRunTime: 60, mounts },
      { scopes },
    );
    expect((await waitForRun(ty, second)).runs[0].state).toBe('completed');
  }, 120_000);
});
