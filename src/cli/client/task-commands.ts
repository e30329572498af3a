/** `taskyard task ...`: create, inspect, follow, download from, cancel and rerun tasks. */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Command, InvalidArgumentError } from 'commander';
import slugid from 'slugid';
import YAML from 'yaml';
import { UserError } from '../fail.ts';
import { type CommonOptions, withApi, withCommon } from './common.ts';
import { type Api, responseError } from './connection.ts';
import { followTask, isResolved, streamRunLog, type TaskStatus, taskStatus } from './live-log.ts';
import { ago, c, fields, note, print, printJson, state, table } from './output.ts';
import { readTaskFile, retriggered, type TaskDefinition, withDefaults } from './task-file.ts';

/** Exit codes of `--follow`: by the task's outcome. */
export const OUTCOME_EXIT = { completed: 0, failed: 1, exception: 2 } as Record<string, number>;

export function parseRun(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a run number (0, 1, ...)');
  return Number(value);
}

/** Where the task can be seen (its status in the API: there is no web UI yet). */
const taskUrl = (api: Api, taskId: string) => `${api.conn.rootUrl}/api/queue/v1/task/${taskId}/status`;

export function registerTaskCommands(program: Command): void {
  const task = program.command('task').description('create, inspect, follow and manage tasks');

  withCommon(task.command('create <file>'))
    .description('create a task from a YAML or JSON file (`-` reads stdin), filling in defaults')
    .option(
      '-f, --follow',
      'stream the live log and exit with the outcome: 0 completed, 1 failed, 2 exception',
    )
    .option('--task-id <taskId>', 'use this taskId instead of a new one')
    .action(
      withApi(async (api, file: string, opts: CommonOptions & { follow?: boolean; taskId?: string }) => {
        const def = readTaskFile(file);
        const taskId = opts.taskId ?? slugid.nice();
        const filled = withDefaults(def, { taskId, file, rootUrl: api.conn.rootUrl });
        const result = await api.call<{ status: TaskStatus }>('queue', 'createTask', taskId, filled);
        if (opts.json && !opts.follow) return printJson({ taskId, url: taskUrl(api, taskId), ...result });
        if (opts.json) note(JSON.stringify({ taskId, url: taskUrl(api, taskId) }));
        else {
          print(taskId);
          note(c.dim(`${taskUrl(api, taskId)} (${result.status.state} on ${result.status.taskQueueId})`));
        }
        if (opts.follow) return finish(api, await followTask(api, taskId, { out: process.stdout }), opts);
      }),
    );

  withCommon(task.command('status <taskId>'))
    .description('the state of a task and its runs')
    .action(
      withApi(async (api, taskId: string, opts: CommonOptions) => {
        const [status, def] = await Promise.all([
          taskStatus(api, taskId),
          api.call<TaskDefinition>('queue', 'task', taskId),
        ]);
        if (opts.json) return printJson({ status, task: def });
        const meta = def.metadata as { name?: string } | undefined;
        print(
          fields([
            ['task', `${taskId}  ${c.bold(meta?.name ?? '')}`],
            ['state', state(status.state)],
            ['queue', status.taskQueueId],
            ['group', status.taskGroupId === taskId ? `${status.taskGroupId} (its own)` : status.taskGroupId],
            ['deadline', `${String(def.deadline)} (${ago(String(def.deadline))})`],
          ]),
        );
        if (status.runs.length) {
          print('');
          print(
            table(
              ['RUN', 'STATE', 'CREATED', 'RESOLVED', 'WORKER', 'STARTED', 'ENDED'],
              status.runs.map((r) => [
                String(r.runId),
                state(r.state),
                r.reasonCreated,
                r.reasonResolved ?? '',
                r.workerId ? `${r.workerGroup}/${r.workerId}` : '',
                ago(r.started),
                ago(r.resolved),
              ]),
            ),
          );
        }
      }),
    );

  withCommon(task.command('def <taskId>'))
    .description('the task definition (YAML; JSON with --json)')
    .action(
      withApi(async (api, taskId: string, opts: CommonOptions) => {
        const def = await api.call('queue', 'task', taskId);
        if (opts.json) printJson(def);
        else process.stdout.write(YAML.stringify(def));
      }),
    );

  withCommon(task.command('log <taskId>'))
    .description('the live log of the latest run (or --run N)')
    .option('-r, --run <n>', 'run number', parseRun)
    .option('-f, --follow', 'keep streaming until the task is resolved; exit with its outcome (0/1/2)')
    .action(
      withApi(async (api, taskId: string, opts: CommonOptions & { run?: number; follow?: boolean }) => {
        if (opts.follow) {
          const status = await followTask(api, taskId, { out: process.stdout, runId: opts.run });
          return finish(api, status, { ...opts, json: false });
        }
        const status = await taskStatus(api, taskId);
        if (status.runs.length === 0)
          throw new UserError(`task ${taskId} has no runs yet (it is ${status.state})`);
        const runId = opts.run ?? status.runs.length - 1;
        if (runId >= status.runs.length) throw new UserError(`task ${taskId} has no run ${runId}`);
        await streamRunLog(api, taskId, runId, { follow: false, out: process.stdout });
      }),
    );

  withCommon(task.command('artifacts <taskId>'))
    .description('the artifacts of the latest run (or --run N)')
    .option('-r, --run <n>', 'run number', parseRun)
    .action(
      withApi(async (api, taskId: string, opts: CommonOptions & { run?: number }) => {
        const artifacts = await listArtifacts(api, taskId, opts.run);
        if (opts.json) return printJson({ artifacts });
        if (artifacts.length === 0) return note('no artifacts');
        print(
          table(
            ['NAME', 'TYPE', 'CONTENT TYPE', 'EXPIRES'],
            artifacts.map((a) => [a.name, a.storageType, a.contentType, ago(a.expires)]),
          ),
        );
      }),
    );

  withCommon(task.command('artifact <taskId> <name>'))
    .description('download an artifact of the latest run (or --run N) to stdout or a file')
    .option('-r, --run <n>', 'run number', parseRun)
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(
      withApi(
        async (
          api,
          taskId: string,
          name: string,
          opts: CommonOptions & { run?: number; output?: string },
        ) => {
          await downloadArtifact(api, taskId, name, opts);
        },
      ),
    );

  withCommon(task.command('cancel <taskId>'))
    .description('cancel a task that is not resolved (its run becomes exception/canceled)')
    .action(
      withApi(async (api, taskId: string, opts: CommonOptions) => {
        const res = await api.call<{ status: TaskStatus }>('queue', 'cancelTask', taskId);
        if (opts.json) return printJson(res);
        print(`${taskId} ${state(res.status.state)}`);
      }),
    );

  withCommon(task.command('rerun <taskId>'))
    .description('run a resolved task again (a new run of the same task)')
    .action(
      withApi(async (api, taskId: string, opts: CommonOptions) => {
        const res = await api.call<{ status: TaskStatus }>('queue', 'rerunTask', taskId);
        if (opts.json) return printJson(res);
        print(`${taskId} ${state(res.status.state)} (run ${res.status.runs.length - 1})`);
      }),
    );

  withCommon(task.command('retrigger <taskId>'))
    .description('create a new task with the same definition, a new taskId and fresh dates')
    .option('--keep-dependencies', 'keep the dependencies (by default they are dropped)')
    .option('-f, --follow', 'stream the new task’s live log and exit with its outcome (0/1/2)')
    .action(
      withApi(
        async (
          api,
          taskId: string,
          opts: CommonOptions & { keepDependencies?: boolean; follow?: boolean },
        ) => {
          const def = await api.call<TaskDefinition>('queue', 'task', taskId);
          const newId = slugid.nice();
          const body = retriggered(def, { taskId: newId, keepDependencies: Boolean(opts.keepDependencies) });
          const res = await api.call<{ status: TaskStatus }>('queue', 'createTask', newId, body);
          if (opts.json && !opts.follow)
            return printJson({ taskId: newId, url: taskUrl(api, newId), ...res });
          print(newId);
          note(c.dim(`${taskUrl(api, newId)} (retrigger of ${taskId}, ${res.status.state})`));
          if (opts.follow) return finish(api, await followTask(api, newId, { out: process.stdout }), opts);
        },
      ),
    );
}

/** Ends a `--follow`: a line about the outcome on stderr, and the outcome's exit code. */
function finish(_api: Api, status: TaskStatus, opts: CommonOptions): void {
  const last = status.runs[status.runs.length - 1];
  const reason =
    last?.reasonResolved && last.reasonResolved !== status.state ? ` (${last.reasonResolved})` : '';
  if (opts.json) printJson({ status });
  else note(`task ${status.taskId} ${state(status.state)}${reason}`);
  process.exitCode = OUTCOME_EXIT[status.state] ?? 1;
}

interface ArtifactEntry {
  name: string;
  storageType: string;
  contentType: string;
  expires: string;
}

async function listArtifacts(api: Api, taskId: string, run?: number): Promise<ArtifactEntry[]> {
  const all: ArtifactEntry[] = [];
  let continuationToken: string | undefined;
  do {
    const query = continuationToken ? { continuationToken } : {};
    const page =
      run === undefined
        ? await api.call<{ artifacts: ArtifactEntry[]; continuationToken?: string }>(
            'queue',
            'listLatestArtifacts',
            taskId,
            query,
          )
        : await api.call<{ artifacts: ArtifactEntry[]; continuationToken?: string }>(
            'queue',
            'listArtifacts',
            taskId,
            run,
            query,
          );
    all.push(...page.artifacts);
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return all;
}

const MAX_REDIRECTS = 5;

/** Follows getArtifact's redirect (signing again where it leads back to this deployment). */
async function downloadArtifact(
  api: Api,
  taskId: string,
  name: string,
  opts: CommonOptions & { run?: number; output?: string },
): Promise<void> {
  let url =
    opts.run === undefined
      ? await api.signedUrl('queue', 'getLatestArtifact', taskId, name)
      : await api.signedUrl('queue', 'getArtifact', taskId, opts.run, name);
  let res = await api.get(url);
  for (let hops = 0; res.status >= 300 && res.status < 400; hops++) {
    const location = res.headers.get('location');
    if (!location || hops >= MAX_REDIRECTS) throw new UserError(`too many redirects downloading ${name}`);
    url = new URL(location, url).toString();
    res = await api.get(url);
  }
  if (res.status === 424) {
    const body = (await res.json().catch(() => ({}))) as { reason?: string; message?: string };
    throw new UserError(
      `artifact ${name} is an error artifact: ${body.reason ?? ''} ${body.message ?? ''}`.trim(),
    );
  }
  if (!res.ok || !res.body) throw await responseError(res, `downloading ${name}`);
  const body = res.body as unknown as AsyncIterable<Uint8Array>;
  if (!opts.output || opts.output === '-') {
    await pipeline(body, nonClosing(process.stdout));
    return;
  }
  // Written beside the target and renamed, so a failed download never leaves a partial file.
  const partial = `${opts.output}.partial-${process.pid}`;
  const total = Number(res.headers.get('content-length') ?? 0);
  let done = 0;
  const tty = process.stderr.isTTY;
  const progress = async function* (source: AsyncIterable<Uint8Array>) {
    for await (const chunk of source) {
      done += chunk.length;
      if (tty)
        process.stderr.write(
          `\r${c.dim(`${name}: ${fmtBytes(done)}${total ? ` of ${fmtBytes(total)}` : ''}`)}`,
        );
      yield chunk;
    }
  };
  try {
    await pipeline(body, progress, createWriteStream(partial));
    await rename(partial, opts.output);
  } catch (err) {
    await rm(partial, { force: true });
    throw err instanceof UserError
      ? err
      : new UserError(`downloading ${name} failed: ${(err as Error).message}`);
  } finally {
    if (tty) process.stderr.write('\n');
  }
  if (opts.json) printJson({ taskId, name, file: opts.output, bytes: done });
  else note(`${name} → ${opts.output} (${fmtBytes(done)})`);
}

function nonClosing(out: NodeJS.WriteStream): Writable {
  return new Writable({
    write(chunk, _enc, cb) {
      if (out.write(chunk)) cb();
      else out.once('drain', () => cb());
    },
  });
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export { isResolved };
