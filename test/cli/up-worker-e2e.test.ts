/**
 * The worker end to end under `taskyard up`, every piece a real process: one `up` (embedded
 * PostgreSQL, every service, a local pool of 2 on local/default, a 6 s claim timeout), the
 * people's CLI (`task create --follow`, `task log`, `task artifact`), separate `taskyard worker`
 * processes on their own e2e/* task queues for the shutdown, crash and container scenarios, and
 * the official client for status checks.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import slugid from 'slugid';
import taskcluster from 'taskcluster-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, repoRoot, runCli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';
import { toolAvailable } from '../worker/tools.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

interface Run {
  runId: number;
  state: string;
  reasonCreated: string;
  reasonResolved?: string;
  workerGroup?: string;
  workerId?: string;
}
interface Status {
  taskId: string;
  state: string;
  runs: Run[];
}

const RESOLVED = ['completed', 'failed', 'exception'];

describe.concurrent('the worker end to end under taskyard up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskyard-up-worker-e2e-'));
  const dataDir = join(dir, 'data');
  // The CLI finds the deployment through the data dir, never through an inherited environment.
  const cliEnv = {
    TASKCLUSTER_ROOT_URL: '',
    TASKCLUSTER_CLIENT_ID: '',
    TASKCLUSTER_ACCESS_TOKEN: '',
    TASKCLUSTER_CERTIFICATE: '',
    NO_COLOR: '1',
  };
  const running: Running[] = [];
  /** Command-line markers of task processes that outlive a SIGKILLed worker. */
  const markers: string[] = [];
  const image = `localhost/taskyard-e2e-busybox:${process.pid}`;
  let imageBuilt = false;
  let up: Running;
  let rootUrl: string;
  let queue: Untyped;
  let workerCreds: { clientId: string; accessToken: string };

  beforeAll(async () => {
    await chmod(dir, 0o755);
    up = runCli(['up', '--port', '0', '--data-dir', dataDir, '--workers', '2'], {
      TASKYARD_QUEUE_CLAIM_TIMEOUT_SECONDS: '6',
    });
    running.push(up);
    [, rootUrl] = (await up.waitFor(/Taskyard is up at (http:\/\/\S+)/, 120_000)) as unknown as [
      string,
      string,
    ];
    const root = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')) as {
      clientId: string;
      accessToken: string;
    };
    const credentials = { clientId: root.clientId, accessToken: root.accessToken };
    queue = new taskcluster.Queue({ rootUrl, credentials, retries: 2 });
    const auth = new taskcluster.Auth({ rootUrl, credentials, retries: 2 });
    const clientId = `e2e/workers-${slugid.nice().slice(0, 8)}`;
    const made = await auth.createClient(clientId, {
      expires: new Date(Date.now() + 3600_000).toJSON(),
      description: 'the separate workers of the e2e test',
      scopes: ['queue:claim-work:e2e/*', 'queue:worker-id:e2e/*', 'purge-cache:purge-requests:*'],
    });
    workerCreds = { clientId, accessToken: made.accessToken };
  }, 180_000);

  afterAll(async () => {
    for (const r of running) {
      if (r !== up && r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    }
    killMarked();
    if (up && up.child.exitCode === null && up.child.signalCode === null) {
      up.child.kill('SIGTERM');
      const timer = setTimeout(() => up.child.kill('SIGKILL'), 60_000);
      await up.exited;
      clearTimeout(timer);
    }
    if (imageBuilt) {
      try {
        execFileSync('podman', ['rmi', '-f', image], { stdio: 'ignore' });
      } catch {}
    }
    await rm(dir, { recursive: true, force: true });
  }, 120_000);

  /** Kills the process groups of task processes whose command line holds one of the markers. */
  function killMarked(): void {
    for (const marker of markers) {
      let pids: number[] = [];
      try {
        pids = execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' })
          .split('\n')
          .filter(Boolean)
          .map(Number);
      } catch {
        // pgrep exits 1 when nothing matches.
      }
      for (const pid of pids) {
        for (const target of [-pid, pid]) {
          try {
            process.kill(target, 'SIGKILL');
          } catch {}
        }
      }
    }
  }

  function cli(args: string[]): Running {
    const r = runCli([...args, '--data-dir', dataDir], cliEnv);
    running.push(r);
    return r;
  }

  /** `taskyard task create FILE --follow` for a task definition; returns its id, exit code and output. */
  async function createAndFollow(def: Record<string, unknown>, taskId = slugid.nice()) {
    const file = join(dir, `${taskId}.json`);
    writeFileSync(file, JSON.stringify(def));
    const r = cli(['task', 'create', file, '--follow', '--task-id', taskId]);
    const code = await r.exited;
    return { taskId, code, output: r.output() };
  }

  async function status(taskId: string): Promise<Status> {
    return (await queue.status(taskId)).status;
  }

  const resolved = (taskId: string) =>
    waitFor(
      async () => {
        const s = await status(taskId);
        return RESOLVED.includes(s.state) ? s : undefined;
      },
      `task ${taskId} to be resolved`,
      120_000,
    );

  async function backingLog(taskId: string, runId?: number): Promise<string> {
    const url =
      runId === undefined
        ? queue.buildSignedUrl(queue.getLatestArtifact, taskId, 'public/logs/live_backing.log')
        : queue.buildSignedUrl(queue.getArtifact, taskId, runId, 'public/logs/live_backing.log');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    return res.text();
  }

  const metadata = (name: string) => ({
    name,
    description: `${name} (up-worker-e2e)`,
    owner: 'e2e@example.com',
    source: 'https://example.com/up-worker-e2e',
  });

  /** A task for a separate worker's queue, through the official client. */
  async function createOn(taskQueueId: string, name: string, payload: unknown): Promise<string> {
    const taskId = slugid.nice();
    await queue.createTask(taskId, {
      taskQueueId,
      created: new Date().toJSON(),
      deadline: new Date(Date.now() + 3600_000).toJSON(),
      retries: 5,
      payload,
      metadata: metadata(name),
    });
    return taskId;
  }

  /** A `taskyard worker` process on its own e2e/<name> queue, waited for until it claims. */
  async function startWorker(
    queueName: string,
    workerId: string,
    extra: Record<string, string | number> = {},
  ): Promise<Running> {
    const file = join(dir, `worker-${workerId}.yml`);
    const settings: Record<string, string | number> = {
      rootUrl,
      taskQueueId: `e2e/${queueName}`,
      workerGroup: 'e2e',
      workerId,
      capacity: 1,
      workDir: join(dir, 'workers', workerId, 'tasks'),
      cacheDir: join(dir, 'workers', workerId, 'caches'),
      shutdownGraceMs: 200,
      ...extra,
    };
    writeFileSync(
      file,
      `${Object.entries(settings)
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
        .join('\n')}\ncredentials:\n  clientId: ${JSON.stringify(workerCreds.clientId)}\n` +
        `  accessToken: ${JSON.stringify(workerCreds.accessToken)}\n`,
    );
    const w = runCli(['worker', '--config', file], { LOG_LEVEL: 'warn' });
    running.push(w);
    await w.waitFor(new RegExp(`Worker e2e/${workerId} is claiming from e2e/${queueName}`), 90_000);
    return w;
  }

  const runningRun = (taskId: string, runId: number) =>
    waitFor(
      async () => {
        const s = await status(taskId);
        return s.runs[runId]?.state === 'running' ? s : undefined;
      },
      `run ${runId} of ${taskId} to be running`,
      120_000,
    );

  it('success: --follow prints the live log and exits 0; task artifact downloads the artifact', async ({
    expect,
  }) => {
    const { taskId, code, output } = await createAndFollow({
      metadata: metadata('success'),
      payload: {
        maxRunTime: 60,
        command: [['/bin/sh', '-c', 'echo "made by $TASK_ID" > out.txt; echo the success line']],
        artifacts: [{ type: 'file', path: 'out.txt', name: 'public/out.txt' }],
      },
    });
    expect(code, output).toBe(0);
    expect(output).toMatch(/\] the success line\n/);
    expect(output).toMatch(/Finished: completed; exit code 0/);
    expect(output).toContain(`task ${taskId} completed`);
    const s = await status(taskId);
    expect(s.runs).toMatchObject([{ state: 'completed' }]);
    const artifact = cli(['task', 'artifact', taskId, 'public/out.txt']);
    expect(await artifact.exited).toBe(0);
    expect(artifact.output()).toBe(`made by ${taskId}\n`);
  }, 180_000);

  it('failure: a non-zero exit fails the run and --follow exits 1', async ({ expect }) => {
    const { taskId, code, output } = await createAndFollow({
      metadata: metadata('failure'),
      payload: { maxRunTime: 60, command: [['/bin/sh', '-c', 'echo about to fail; exit 3']] },
    });
    expect(code, output).toBe(1);
    expect(output).toMatch(/\] about to fail\n/);
    expect(output).toMatch(/Finished: failed; exit code 3/);
    expect(output).toContain(`task ${taskId} failed`);
    expect((await status(taskId)).runs).toMatchObject([{ state: 'failed', reasonResolved: 'failed' }]);
  }, 180_000);

  it('maxRunTime exceeded: the processes are killed, the run fails, --follow exits 1', async ({ expect }) => {
    const { taskId, code, output } = await createAndFollow({
      metadata: metadata('too slow'),
      payload: { maxRunTime: 3, command: [['/bin/sh', '-c', 'echo started slow; sleep 600']] },
    });
    expect(code, output).toBe(1);
    expect(output).toMatch(/\] started slow\n/);
    expect(output).toMatch(/the task exceeded its maxRunTime of 3 seconds; its processes were killed/);
    expect((await status(taskId)).runs).toMatchObject([{ state: 'failed' }]);
  }, 180_000);

  it('malformed payload: exception/malformed-payload naming the problem, --follow exits 2', async ({
    expect,
  }) => {
    const { taskId, code, output } = await createAndFollow({
      metadata: metadata('malformed'),
      payload: { maxRunTime: 60, command: 'echo not a list of commands' },
    });
    expect(code, output).toBe(2);
    expect(output).toMatch(/The task payload is invalid:/);
    expect(output).toMatch(/payload\.command must be array/);
    expect(output).toMatch(/Finished: exception\/malformed-payload/);
    expect(output).toContain(`task ${taskId} exception (malformed-payload)`);
    const s = await status(taskId);
    // Not retried: a malformed payload stays malformed.
    expect(s.runs).toMatchObject([{ state: 'exception', reasonResolved: 'malformed-payload' }]);
    expect(s.runs).toHaveLength(1);
  }, 180_000);

  it('a missing artifact fails the run; task artifact reports the error artifact', async ({ expect }) => {
    const { taskId, code, output } = await createAndFollow({
      metadata: metadata('missing artifact'),
      payload: {
        maxRunTime: 60,
        command: [['/bin/sh', '-c', 'echo forgot to write it']],
        artifacts: [{ type: 'file', path: 'never.txt', name: 'public/never.txt' }],
      },
    });
    expect(code, output).toBe(1);
    expect(output).toMatch(/Artifact public\/never\.txt: never\.txt does not exist; the run fails/);
    expect(output).toMatch(/Finished: failed; exit code 0/);
    expect((await status(taskId)).runs).toMatchObject([{ state: 'failed' }]);
    const artifact = cli(['task', 'artifact', taskId, 'public/never.txt']);
    expect(await artifact.exited).toBe(1);
    expect(artifact.output()).toMatch(/never\.txt does not exist on the worker/);
  }, 180_000);

  it('an exit code in onExitStatus.retry: intermittent-task, retried, --follow follows run 1 and exits 0', async ({
    expect,
  }) => {
    const { taskId, code, output } = await createAndFollow({
      metadata: metadata('intermittent'),
      payload: {
        maxRunTime: 60,
        onExitStatus: { retry: [42] },
        command: [['/bin/sh', '-c', 'echo "attempt $RUN_ID"; [ "$RUN_ID" = 0 ] && exit 42; echo fine now']],
      },
    });
    expect(code, output).toBe(0);
    expect(output).toMatch(/\] attempt 0\n/);
    expect(output).toMatch(/Exit code 42 is listed in onExitStatus\.retry/);
    expect(output).toMatch(/run 0 ended: exception \(intermittent-task\); following run 1/);
    expect(output).toMatch(/\] attempt 1\n[\s\S]*\] fine now\n/);
    expect(output).toContain(`task ${taskId} completed`);
    const s = await status(taskId);
    expect(s.runs).toMatchObject([
      { runId: 0, state: 'exception', reasonResolved: 'intermittent-task' },
      { runId: 1, state: 'completed', reasonCreated: 'task-retry' },
    ]);
  }, 180_000);

  it('a mount of an upstream artifact with the wrong sha256 fails the run, naming both hashes', async ({
    expect,
  }) => {
    const upstream = await createAndFollow({
      metadata: metadata('upstream'),
      payload: {
        maxRunTime: 60,
        command: [['/bin/sh', '-c', 'echo upstream content > data.txt']],
        artifacts: [{ type: 'file', path: 'data.txt', name: 'public/data.txt' }],
      },
    });
    expect(upstream.code, upstream.output).toBe(0);
    const wrong = 'ab'.repeat(32);
    const actual = createHash('sha256').update('upstream content\n').digest('hex');
    const { taskId, code, output } = await createAndFollow({
      metadata: metadata('downstream'),
      dependencies: [upstream.taskId],
      payload: {
        maxRunTime: 60,
        mounts: [
          {
            file: 'data.txt',
            content: { taskId: upstream.taskId, artifact: 'public/data.txt', sha256: wrong },
          },
        ],
        command: [['/bin/sh', '-c', 'echo must not run']],
      },
    });
    expect(code, output).toBe(1);
    expect(output).toMatch(
      new RegExp(`sha256 mismatch for .*public/data\\.txt.*: expected ${wrong}, got ${actual}`),
    );
    expect(output).not.toMatch(/\] must not run/);
    expect((await status(taskId)).runs).toMatchObject([{ state: 'failed' }]);
  }, 180_000);

  it('the live log is readable while the run is running, and complete once it ends', async ({ expect }) => {
    const release = join(dir, `release-${slugid.nice()}`);
    const taskId = slugid.nice();
    const file = join(dir, `${taskId}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        metadata: metadata('live log'),
        payload: {
          maxRunTime: 300,
          command: [
            [
              '/bin/sh',
              '-c',
              `echo the first line; while [ ! -e ${release} ]; do sleep 0.2; done; echo the last line`,
            ],
          ],
        },
      }),
    );
    const create = cli(['task', 'create', file, '--task-id', taskId]);
    expect(await create.exited, create.output()).toBe(0);
    await runningRun(taskId, 0);
    // The task waits for the release file: until it exists, the run is running.
    const partial = await waitFor(
      async () => {
        const log = cli(['task', 'log', taskId]);
        const code = await log.exited;
        return code === 0 && /\] the first line\n/.test(log.output()) ? log.output() : undefined;
      },
      'the first line in the live log',
      120_000,
    );
    expect(partial).not.toMatch(/\] the last line\n/);
    expect((await status(taskId)).runs[0].state).toBe('running');
    writeFileSync(release, '');
    expect((await resolved(taskId)).state).toBe('completed');
    const whole = cli(['task', 'log', taskId]);
    expect(await whole.exited).toBe(0);
    expect(whole.output()).toMatch(/\] the first line\n[\s\S]*\] the last line\n[\s\S]*Finished: completed/);
    expect(await backingLog(taskId)).toMatch(/\] the first line\n[\s\S]*\] the last line\n/);
  }, 180_000);

  it('SIGTERM during a task: the worker exits 0, run 0 is worker-shutdown, a second worker completes run 1', async ({
    expect,
  }) => {
    const first = await startWorker('shutdown', 'shutdown-1');
    const taskId = await createOn('e2e/shutdown', 'shutdown', {
      maxRunTime: 900,
      command: [['/bin/sh', '-c', '[ "$RUN_ID" = 0 ] && sleep 600; echo done on run $RUN_ID']],
    });
    await runningRun(taskId, 0);
    first.child.kill('SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    const afterShutdown = await status(taskId);
    expect(afterShutdown.runs).toMatchObject([
      { state: 'exception', reasonResolved: 'worker-shutdown', workerId: 'shutdown-1' },
      { state: 'pending', reasonCreated: 'retry' },
    ]);
    expect(await backingLog(taskId, 0)).toMatch(/Finished: exception\/worker-shutdown/);
    const second = await startWorker('shutdown', 'shutdown-2');
    const s = await resolved(taskId);
    expect(s.state).toBe('completed');
    expect(s.runs[1]).toMatchObject({ state: 'completed', workerId: 'shutdown-2' });
    expect(await backingLog(taskId, 1)).toMatch(/\] done on run 1\n/);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 180_000);

  it('SIGKILL of a worker: its claim expires, the queue retries the task, a second worker completes it', async ({
    expect,
  }) => {
    const marker = `taskyard-e2e-killed-${process.pid}-${slugid.nice().replace(/[^a-zA-Z0-9]/g, '')}`;
    markers.push(marker);
    const first = await startWorker('killed', 'killed-1');
    const taskId = await createOn('e2e/killed', 'killed', {
      maxRunTime: 900,
      command: [['/bin/sh', '-c', `: ${marker}; [ "$RUN_ID" = 0 ] && sleep 600; echo done on run $RUN_ID`]],
    });
    await runningRun(taskId, 0);
    first.child.kill('SIGKILL');
    await first.exited;
    // Nobody reclaims run 0 any more: after the 6 s claim timeout the queue expires it.
    const expired = await waitFor(
      async () => {
        const s = await status(taskId);
        return s.runs.length > 1 ? s : undefined;
      },
      'the claim of run 0 to expire',
      120_000,
    );
    expect(expired.runs).toMatchObject([
      { state: 'exception', reasonResolved: 'claim-expired', workerId: 'killed-1' },
      { state: 'pending', reasonCreated: 'retry' },
    ]);
    // The task's own process group outlived its worker, as with any worker that is SIGKILLed.
    killMarked();
    const second = await startWorker('killed', 'killed-2');
    const s = await resolved(taskId);
    expect(s.state).toBe('completed');
    expect(s.runs[1]).toMatchObject({ state: 'completed', workerId: 'killed-2' });
    expect(await backingLog(taskId, 1)).toMatch(/\] done on run 1\n/);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 180_000);

  it('the container engine runs a docker-worker payload in a busybox image', async (ctx) => {
    // Fails (throws) when TASKYARD_REQUIRE_TOOLS names podman and it is missing; skips otherwise.
    if (!toolAvailable('podman', '/usr/bin/podman') || !toolAvailable('podman', '/bin/busybox')) {
      ctx.skip();
      return;
    }
    // A tiny image without a registry: busybox-static and a few applet links, imported as a rootfs.
    const root = join(dir, 'rootfs');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
    for (const applet of ['sh', 'echo', 'cat', 'uname']) symlinkSync('busybox', join(root, 'bin', applet));
    execFileSync('tar', ['-C', root, '-cf', join(dir, 'rootfs.tar'), '.']);
    execFileSync('podman', ['import', '--change', 'ENV=PATH=/bin', join(dir, 'rootfs.tar'), image], {
      stdio: 'ignore',
    });
    imageBuilt = true;
    const worker = await startWorker('container', 'container-1', { engine: 'container' });
    const taskId = await createOn('e2e/container', 'container', {
      image,
      command: ['/bin/sh', '-c', 'echo hello from $WHO; uname -s'],
      env: { WHO: 'busybox' },
      maxRunTime: 120,
    });
    const s = await resolved(taskId);
    const log = await backingLog(taskId);
    ctx.expect(s.runs[0].state, log).toBe('completed');
    ctx.expect(log).toMatch(/Engine: container \(.*, image localhost\/taskyard-e2e-busybox/);
    ctx.expect(log).toMatch(/\] hello from busybox\n[\s\S]*\] Linux\n/);
    worker.child.kill('SIGTERM');
    ctx.expect(await worker.exited).toBe(0);
  }, 180_000);

  it('the example task graph runs to completion and its group is resolved', async ({ expect }) => {
    const sh = spawn('sh', ['examples/graph/run.sh'], {
      cwd: repoRoot,
      env: { ...process.env, ...cliEnv, TASKYARD_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    sh.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    sh.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((r) => sh.on('exit', (c) => r(c)));
    expect(code, out).toBe(0);
    const groupId = out.match(/^group: (\S+)$/m)?.[1];
    expect(groupId, out).toBeDefined();
    const tasks: Untyped[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await queue.listTaskGroup(groupId, continuationToken ? { continuationToken } : {});
      tasks.push(...page.tasks);
      continuationToken = page.continuationToken;
    } while (continuationToken);
    const names = tasks.map((t) => t.task.metadata.name).sort();
    expect(names).toEqual(['decision', 'join', 'part-1', 'part-2', 'part-3']);
    for (const t of tasks) expect(t.status.state, t.task.metadata.name).toBe('completed');
    const join = tasks.find((t) => t.task.metadata.name === 'join');
    const all = cli(['task', 'artifact', join.status.taskId, 'public/all.txt']);
    expect(await all.exited).toBe(0);
    expect(all.output()).toBe('part 1 of 3\npart 2 of 3\npart 3 of 3\n');
  }, 180_000);
});
