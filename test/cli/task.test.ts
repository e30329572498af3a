import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import slugid from 'slugid';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { queueClient, queueClientFromReference, taskDef } from '../helpers/queue.ts';
import { startTestTaskyard, type TestTaskyard } from '../helpers/taskyard.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

/**
 * Task ids for the command line: a v4 slugid starts with '-' one time in 64, and any command line
 * reads that as an option (the test of `--` below covers those).
 */
const newTaskId = (): string => slugid.nice();

// Each test starts CLI processes (a few seconds each on a busy 2-core machine, several per test).
vi.setConfig({ testTimeout: 90_000 });

let ty: TestTaskyard;
let dir: string;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  ty = await startTestTaskyard();
  dir = await mkdtemp(join(tmpdir(), 'taskyard-cli-'));
  env = {
    TASKCLUSTER_ROOT_URL: ty.rootUrl,
    TASKCLUSTER_CLIENT_ID: ty.root.clientId,
    TASKCLUSTER_ACCESS_TOKEN: ty.root.accessToken,
    TASKCLUSTER_CERTIFICATE: '',
    NO_COLOR: '1',
  };
});
afterAll(async () => {
  await ty?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI to its end: exit code and output (stdout and stderr interleaved). */
async function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const run = runCli(args, { ...env, ...extraEnv });
  const code = await run.exited;
  return { code, output: run.output() };
}

/** Stdout only, for --json (notes go to stderr). */
async function cliJson(args: string[]): Promise<Untyped> {
  const run = runCli([...args, '--json'], env);
  let stdout = '';
  run.child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const code = await run.exited;
  if (code !== 0) throw new Error(`exit ${code}: ${run.output()}`);
  return JSON.parse(stdout);
}

const newQueue = () => `local/t${Math.random().toString(36).slice(2, 10)}`;

async function taskFile(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

/** Plays the worker: claims the one task of `taskQueueId`, returning a client with its credentials. */
async function claim(taskQueueId: string): Promise<{ taskId: string; worker: Untyped }> {
  const queue = queueClient(ty);
  for (;;) {
    const { tasks } = await queue.claimWork(taskQueueId, { workerGroup: 'wg', workerId: 'wi', tasks: 1 });
    if (tasks.length) {
      return {
        taskId: tasks[0].status.taskId,
        worker: await queueClientFromReference(ty, tasks[0].credentials),
      };
    }
  }
}

describe('task create', () => {
  it('creates a task from YAML, filling in the defaults, and prints its taskId', async () => {
    const file = await taskFile(
      'hello-defaults.yml',
      'payload:\n  command: [[echo, hello]]\n  maxRunTime: 60\nmetadata:\n  owner: me@example.com\n',
    );
    const before = Date.now();
    const { code, output } = await cli(['task', 'create', file]);
    expect(code).toBe(0);
    const taskId = output.split('\n')[0].trim();
    expect(taskId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(output).toContain(`${ty.rootUrl}/api/queue/v1/task/${taskId}/status`);
    const def = await queueClient(ty).task(taskId);
    expect(def).toMatchObject({
      taskQueueId: 'local/default',
      schedulerId: '-',
      taskGroupId: taskId,
      priority: 'lowest',
      retries: 5,
      payload: { command: [['echo', 'hello']], maxRunTime: 60 },
      metadata: { name: 'hello-defaults', owner: 'me@example.com' },
    });
    const created = new Date(def.created).getTime();
    expect(created).toBeGreaterThanOrEqual(before - 1000);
    expect(new Date(def.deadline).getTime() - created).toBe(24 * 3600_000);
    expect(new Date(def.expires).getTime()).toBeGreaterThan(new Date(def.deadline).getTime());
  });

  it('reads JSON too, keeps what the file gives, and accepts relative times', async () => {
    const tq = newQueue();
    const file = await taskFile(
      'given.json',
      JSON.stringify({ taskQueueId: tq, deadline: '2 hours', payload: {}, priority: 'high' }),
    );
    const out = await cliJson(['task', 'create', file]);
    const def = await queueClient(ty).task(out.taskId);
    expect(def).toMatchObject({ taskQueueId: tq, priority: 'high' });
    const hours = (new Date(def.deadline).getTime() - new Date(def.created).getTime()) / 3600_000;
    expect(hours).toBeGreaterThan(1.9);
    expect(hours).toBeLessThan(2.1);
    expect(out.status.state).toBe('pending');
  });

  it('fails clearly for a missing file, invalid YAML, a non-mapping and a definition the queue refuses', async () => {
    // Independent runs, at once: each starts a whole CLI process.
    const [missing, bad, list, refused] = await Promise.all([
      cli(['task', 'create', join(dir, 'nope.yml')]),
      taskFile('bad.yml', 'payload: [unclosed\n').then((f) => cli(['task', 'create', f])),
      taskFile('list.yml', '- a\n- b\n').then((f) => cli(['task', 'create', f])),
      taskFile('refused.yml', 'priority: urgent\n').then((f) => cli(['task', 'create', f])),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.output).toMatch(/nope\.yml: no such file/);
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/bad\.yml is not valid YAML or JSON/);
    expect(list.code).toBe(1);
    expect(list.output).toContain('must hold one task definition (a mapping), not a list');
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/^taskyard: InputValidationError: .*priority/m);
    for (const r of [missing, bad, list, refused]) expect(r.output).not.toMatch(/\n\s+at /);
  });
});

describe('task create --follow', () => {
  async function followed(resolve: (worker: Untyped, taskId: string) => Promise<void>) {
    const tq = newQueue();
    const file = await taskFile(`f-${tq.slice(6)}.yml`, `taskQueueId: ${tq}\npayload: {}\n`);
    const run = runCli(['task', 'create', file, '--follow'], env);
    const { taskId, worker } = await claim(tq);
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'first line\n' });
    // The log reaches the terminal while the task still runs.
    await run.waitFor(/first line/);
    await worker.appendLiveLog(taskId, 0, { offset: 11, data: 'second → line\n' });
    await run.waitFor(/second → line/);
    await resolve(worker, taskId);
    return { code: await run.exited, output: run.output(), taskId };
  }

  it('streams the log as it is appended and exits 0 when the task completes', async () => {
    const { code, output, taskId } = await followed((w, id) => w.reportCompleted(id, 0));
    expect(code).toBe(0);
    expect(output).toContain('first line\nsecond → line\n');
    expect(output).toContain(`task ${taskId} completed`);
  });

  it('exits 1 when the task fails', async () => {
    const { code, output } = await followed((w, id) => w.reportFailed(id, 0));
    expect(code).toBe(1);
    expect(output).toMatch(/task \S+ failed/);
  });

  it('exits 2 when the task ends in an exception', async () => {
    const { code, output } = await followed((w, id) =>
      w.reportException(id, 0, { reason: 'malformed-payload' }),
    );
    expect(code).toBe(2);
    expect(output).toMatch(/task \S+ exception \(malformed-payload\)/);
  });
});

describe('reading tasks', () => {
  let taskId: string;
  const bytes = randomBytes(200_000);
  beforeAll(async () => {
    const tq = newQueue();
    taskId = newTaskId();
    await queueClient(ty).createTask(taskId, taskDef(ty, { taskQueueId: tq }));
    const { worker } = await claim(tq);
    await worker.appendLiveLog(taskId, 0, { offset: 0, data: 'the whole log\n' });
    const res = await worker.createArtifact(taskId, 0, 'public/data.bin', {
      storageType: 's3',
      contentType: 'application/octet-stream',
      expires: new Date(Date.now() + 3600_000).toJSON(),
    });
    const put = await fetch(res.putUrl, {
      method: 'PUT',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(put.ok).toBe(true);
    await worker.reportCompleted(taskId, 0);
  });

  it('downloads an artifact byte for byte, to a file or stdout', async () => {
    const out = join(dir, 'data.bin');
    const toFile = await cli(['task', 'artifact', taskId, 'public/data.bin', '-o', out]);
    expect(toFile.code).toBe(0);
    expect((await readFile(out)).equals(bytes)).toBe(true);
    const run = runCli(['task', 'artifact', taskId, 'public/data.bin', '--run', '0'], env);
    const chunks: Buffer[] = [];
    run.child.stdout!.on('data', (d: Buffer) => chunks.push(d));
    expect(await run.exited).toBe(0);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    const missing = await cli(['task', 'artifact', taskId, 'public/none.txt', '-o', join(dir, 'none')]);
    expect(missing.code).toBe(1);
    expect(missing.output).toMatch(/ResourceNotFound/);
  });

  it('prints the log, the status, the definition and the artifacts, as JSON with --json', async () => {
    const log = await cli(['task', 'log', taskId]);
    expect(log).toMatchObject({ code: 0 });
    expect(log.output).toBe('the whole log\n');
    const status = await cliJson(['task', 'status', taskId]);
    expect(status.status).toMatchObject({ taskId, state: 'completed' });
    const human = await cli(['task', 'status', taskId]);
    expect(human.output).toMatch(/state:\s+completed/);
    expect(human.output).toMatch(/0\s+completed\s+scheduled\s+completed\s+wg\/wi/);
    const def = await cliJson(['task', 'def', taskId]);
    expect(def.taskQueueId).toMatch(/^local\//);
    const artifacts = await cliJson(['task', 'artifacts', taskId]);
    expect(artifacts.artifacts.map((a: { name: string }) => a.name)).toEqual(['public/data.bin']);
  });

  it('reruns, retriggers and cancels', async () => {
    const rerun = await cliJson(['task', 'rerun', taskId]);
    expect(rerun.status.runs).toHaveLength(2);
    const cancel = await cliJson(['task', 'cancel', taskId]);
    expect(cancel.status.state).toBe('exception');
    const retrigger = await cliJson(['task', 'retrigger', taskId]);
    expect(retrigger.taskId).not.toBe(taskId);
    const original = await queueClient(ty).task(taskId);
    const copy = await queueClient(ty).task(retrigger.taskId);
    expect(copy.payload).toEqual(original.payload);
    expect(copy.taskQueueId).toBe(original.taskQueueId);
    expect(new Date(copy.created).getTime()).toBeGreaterThan(new Date(original.created).getTime());
  });

  it('says what is wrong for an unknown task, without a stack trace', async () => {
    const unknown = newTaskId();
    const res = await cli(['task', 'status', unknown]);
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/^taskyard: ResourceNotFound: .*$/m);
    expect(res.output).not.toMatch(/\n\s+at /);
  });
});

describe('ids that start with a dash', () => {
  it('takes one after `--`, and says so when it was taken for an option', async () => {
    const taskId = `-${slugid.nice().slice(1)}`;
    await queueClient(ty).createTask(taskId, taskDef(ty));
    const ok = await cli(['task', 'status', '--', taskId]);
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toMatch(/state:\s+pending/);
    const asOption = await cli(['task', 'status', taskId]);
    expect(asOption.code).toBe(1);
    expect(asOption.output).toContain(`unknown option '${taskId}'`);
    expect(asOption.output).toContain("an id that starts with '-' goes after `--`");
    const other = await cli(['task', 'status', '--no-such-option']);
    expect(other.output).not.toContain('goes after `--`');
  });
});

describe('credentials and connection', () => {
  it('uses credentials.json of the data dir, and says how to start Taskyard when there is none', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'taskyard-dd-'));
    try {
      const none = await cli(['task', 'status', newTaskId(), '--data-dir', dataDir], {
        TASKCLUSTER_ROOT_URL: '',
      });
      expect(none.code).toBe(1);
      expect(none.output).toContain('start Taskyard with `npm start`');
      await writeFile(
        join(dataDir, 'credentials.json'),
        JSON.stringify({ rootUrl: ty.rootUrl, clientId: ty.root.clientId, accessToken: ty.root.accessToken }),
      );
      const taskId = newTaskId();
      await queueClient(ty).createTask(taskId, taskDef(ty));
      const ok = await cli(['task', 'status', taskId, '--data-dir', dataDir], { TASKCLUSTER_ROOT_URL: '' });
      expect(ok.code, ok.output).toBe(0);
      expect(ok.output).toMatch(/state:\s+pending/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('says the server is unreachable', async () => {
    const res = await cli(['task', 'status', newTaskId()], { TASKCLUSTER_ROOT_URL: 'http://127.0.0.1:9' });
    expect(res.code).toBe(1);
    expect(res.output).toContain('cannot reach Taskyard at http://127.0.0.1:9');
  });

  it('reports bad credentials as an authentication failure', async () => {
    const res = await cli(['task', 'status', newTaskId()], { TASKCLUSTER_ACCESS_TOKEN: 'wrong' });
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/AuthenticationFailed/);
  });
});

describe('api', () => {
  it('lists services and methods, and calls any method with arguments, input and query', async () => {
    const services = await cliJson(['api']);
    expect(services.services).toEqual(expect.arrayContaining(['auth', 'queue']));
    const methods = await cli(['api', 'queue']);
    expect(methods.output).toMatch(/appendLiveLog <taskId> <runId>/);
    const taskId = newTaskId();
    const input = join(dir, 'task.json');
    await writeFile(input, JSON.stringify(taskDef(ty, { taskGroupId: taskId })));
    const created = await cliJson(['api', 'queue', 'createTask', taskId, '--input', `@${input}`]);
    expect(created.status.taskId).toBe(taskId);
    const got = await cliJson(['api', 'queue', 'task', taskId]);
    expect(got.taskGroupId).toBe(taskId);
    const page = await cliJson(['api', 'queue', 'listTaskGroup', taskId, '--query', 'limit=1']);
    expect(page.tasks).toHaveLength(1);
    const role = await cliJson([
      'api',
      'auth',
      'createRole',
      'cli-test-role',
      '--input',
      '{"description":"from the cli","scopes":["a:b"]}',
    ]);
    expect(role).toMatchObject({ roleId: 'cli-test-role', scopes: ['a:b'] });
  });

  it('explains misuse', async () => {
    const unknown = await cli(['api', 'queue', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain('no method "nope"');
    const args = await cli(['api', 'queue', 'task']);
    expect(args.output).toContain('takes 1 argument(s): task <taskId>');
    const body = await cli(['api', 'queue', 'createTask', newTaskId()]);
    expect(body.output).toContain('needs a request body');
    const badJson = await cli(['api', 'queue', 'createTask', newTaskId(), '--input', '{nope']);
    expect(badJson.output).toContain('is not valid JSON');
    const query = await cli(['api', 'queue', 'listTaskGroup', newTaskId(), '--query', 'color=red']);
    expect(query.output).toContain('no query parameter "color"');
  });
});

describe('group', () => {
  it('counts, lists and watches a group until it is resolved', async () => {
    const tq = newQueue();
    const group = newTaskId();
    const ids = [newTaskId(), newTaskId()];
    for (const id of ids)
      await queueClient(ty).createTask(id, taskDef(ty, { taskQueueId: tq, taskGroupId: group }));
    const status = await cliJson(['group', 'status', group]);
    expect(status).toMatchObject({ total: 2, counts: { pending: 2, completed: 0 } });
    const list = await cli(['group', 'list', group]);
    for (const id of ids) expect(list.output).toContain(id);
    const watch = runCli(['group', 'watch', group, '--interval', '0.3'], env);
    await watch.waitFor(/0\/2/);
    for (let i = 0; i < 2; i++) {
      const { taskId, worker } = await claim(tq);
      await worker.reportCompleted(taskId, 0);
    }
    expect(await watch.exited).toBe(0);
    expect(watch.output()).toMatch(/2\/2\s+completed 2/);
    const sealed = await cliJson(['group', 'seal', group]);
    expect(sealed.sealed).toBeTruthy();
  });

  it('cancels the unresolved tasks of a group, and watch exits 1 when not all completed', async () => {
    const tq = newQueue();
    const group = newTaskId();
    for (let i = 0; i < 3; i++) {
      await queueClient(ty).createTask(newTaskId(), taskDef(ty, { taskQueueId: tq, taskGroupId: group }));
    }
    const res = await cliJson(['group', 'cancel', group]);
    expect(res).toMatchObject({ taskGroupSize: 3, cancelledCount: 3 });
    const watch = await cli(['group', 'watch', group]);
    expect(watch.code).toBe(1);
    expect(watch.output).toMatch(/3\/3\s+exception 3/);
  });
});
