import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestTaskyard, type TestTaskyard } from '../helpers/taskyard.ts';
import { artifactText, backingLog, createTask, startWorker, type TestWorker, waitForRun } from './helpers.ts';
import { toolAvailable } from './tools.ts';

const hasBwrap = toolAvailable('bwrap', '/usr/bin/bwrap');

describe.skipIf(!hasBwrap)('worker, process engine in a bubblewrap sandbox', () => {
  let ty: TestTaskyard;
  let w: TestWorker;
  beforeAll(async () => {
    ty = await startTestTaskyard({ realClock: true });
    w = await startWorker(ty, { sandbox: 'bwrap', capacity: 1 });
  }, 60_000);
  afterAll(async () => {
    await w?.stop();
    await ty?.stop();
  });

  it('lets a sandboxed task with features.taskclusterProxy reach the proxy, and only with its scopes', async () => {
    const taskId = await createTask(
      ty,
      w,
      {
        command: [
          [
            '/bin/sh',
            '-c',
            'curl -s -o /dev/null -w "ping %{http_code}\\n" "$TASKCLUSTER_PROXY_URL/api/auth/v1/scopes/current"; ' +
              'curl -s "$TASKCLUSTER_PROXY_URL/api/auth/v1/scopes/current"; echo',
          ],
        ],
        maxRunTime: 60,
        features: { taskclusterProxy: true },
      },
      { scopes: ['auth:current-scopes', 'project:sandboxed-proxy-scope'] },
    );
    const status = await waitForRun(ty, taskId);
    const log = await backingLog(ty, taskId);
    expect(status.runs[0].state, log).toBe('completed');
    expect(log).toMatch(/\] ping 200\n/);
    // The task's scopes, not the run's own (resolving or reclaiming it).
    const [, scopes] = /\{"scopes":(\[[^\]]*\])\}/.exec(log) ?? [];
    expect(JSON.parse(scopes ?? 'null')).toEqual([
      'assume:anonymous',
      'auth:current-scopes',
      'project:sandboxed-proxy-scope',
    ]);
  }, 120_000);

  it('lets the task write its own directory and caches, but nothing outside, and gives it no network', async () => {
    const outside = join(w.dir, 'escaped.txt');
    const script = [
      'echo inside > inside.txt',
      'echo cached > cache/c.txt',
      // /tmp is the sandbox's own tmpfs: this write lands there, never in the real file.
      `echo x > ${outside} 2>/dev/null; true`,
      'if echo x > /etc/taskyard-escape 2>/dev/null; then echo WROTE-ETC; else echo etc-refused; fi',
      'echo tmp > /tmp/t && echo tmp-ok',
      // Only the loopback interface exists in the task's network namespace.
      'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " > ifaces.txt',
      'echo pid-$$',
    ].join('\n');
    const taskId = await createTask(
      ty,
      w,
      {
        command: [['/bin/sh', '-c', script]],
        maxRunTime: 60,
        mounts: [{ directory: 'cache', cacheName: 'sandboxed' }],
        artifacts: [
          { type: 'file', path: 'inside.txt', name: 'public/inside.txt' },
          { type: 'file', path: 'ifaces.txt', name: 'public/ifaces.txt' },
        ],
      },
      { scopes: ['generic-worker:cache:sandboxed'] },
    );
    const status = await waitForRun(ty, taskId);
    const log = await backingLog(ty, taskId);
    expect(status.runs[0].state, log).toBe('completed');
    expect(log).toMatch(/Engine: process \(bubblewrap sandbox\)/);
    expect(log).toMatch(/\] etc-refused\n/);
    expect(log).toMatch(/\] tmp-ok\n/);
    // A new pid namespace: the shell is one of the first processes in it.
    expect(log).toMatch(/\] pid-[1-9]\n/);
    expect(existsSync(outside)).toBe(false);
    expect(existsSync('/etc/taskyard-escape')).toBe(false);
    expect(await artifactText(ty, taskId, 0, 'public/inside.txt')).toBe('inside\n');
    expect((await artifactText(ty, taskId, 0, 'public/ifaces.txt')).trim()).toBe('lo');
  }, 120_000);

  it.skipIf(!existsSync('/usr/bin/perl'))(
    'cannot reach the Taskyard server (or anything) over the network',
    async () => {
      const port = new URL(ty.rootUrl).port;
      const connect = `use IO::Socket::INET; exit(IO::Socket::INET->new(PeerAddr => "127.0.0.1:${port}", Timeout => 3) ? 0 : 1)`;
      const probe = `if /usr/bin/perl -e '${connect}'; then echo NET-OK; else echo net-refused; fi`;
      const taskId = await createTask(ty, w, { command: [['/bin/sh', '-c', probe]], maxRunTime: 60 });
      await waitForRun(ty, taskId);
      const log = await backingLog(ty, taskId);
      expect(log).toMatch(/\] net-refused\n/);
      expect(log).not.toMatch(/\] NET-OK/);
    },
    120_000,
  );
});
