/** `taskyard group ...`: the tasks of a task group, counted, listed, sealed, cancelled, watched. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { type CommonOptions, withApi, withCommon } from './common.ts';
import type { Api } from './connection.ts';
import { c, fields, note, print, printJson, state, table } from './output.ts';

interface GroupEntry {
  status: { taskId: string; state: string; runs: unknown[] };
  task: { metadata?: { name?: string } };
}

interface GroupInfo {
  taskGroupId: string;
  schedulerId: string;
  expires: string;
  sealed?: string | null;
}

const STATES = ['unscheduled', 'pending', 'running', 'completed', 'failed', 'exception'] as const;

async function listGroup(api: Api, taskGroupId: string): Promise<GroupEntry[]> {
  const all: GroupEntry[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await api.call<{ tasks: GroupEntry[]; continuationToken?: string }>(
      'queue',
      'listTaskGroup',
      taskGroupId,
      continuationToken ? { continuationToken, limit: 1000 } : { limit: 1000 },
    );
    all.push(...page.tasks);
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return all;
}

function count(tasks: GroupEntry[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const t of tasks) counts[t.status.state] = (counts[t.status.state] ?? 0) + 1;
  return counts;
}

const unresolved = (counts: Record<string, number>) => counts.unscheduled + counts.pending + counts.running;

function countLine(counts: Record<string, number>, total: number): string {
  return STATES.filter((s) => counts[s] > 0)
    .map((s) => `${state(s)} ${counts[s]}`)
    .join('  ')
    .concat(total === 0 ? c.dim('no tasks') : '');
}

/** A bar of `width` cells: resolved tasks coloured by outcome, the rest dim. */
function bar(counts: Record<string, number>, total: number, width = 30): string {
  if (total === 0) return c.dim('·'.repeat(width));
  const cells = (n: number) => Math.round((n / total) * width);
  const done = cells(counts.completed);
  const failed = cells(counts.failed);
  const exception = cells(counts.exception);
  const running = cells(counts.running);
  const rest = Math.max(0, width - done - failed - exception - running);
  return (
    c.green('█'.repeat(done)) +
    c.red('█'.repeat(failed)) +
    c.magenta('█'.repeat(exception)) +
    c.cyan('▒'.repeat(running)) +
    c.dim('·'.repeat(rest))
  );
}

export function registerGroupCommands(program: Command): void {
  const group = program.command('group').description('task groups: status, list, seal, cancel, watch');

  withCommon(group.command('status <taskGroupId>'))
    .description('how many tasks of the group are in each state')
    .action(
      withApi(async (api, taskGroupId: string, opts: CommonOptions) => {
        const [info, tasks] = await Promise.all([
          api.call<GroupInfo>('queue', 'getTaskGroup', taskGroupId),
          listGroup(api, taskGroupId),
        ]);
        const counts = count(tasks);
        if (opts.json) return printJson({ ...info, total: tasks.length, counts });
        print(
          fields([
            ['group', taskGroupId],
            ['tasks', String(tasks.length)],
            ['sealed', info.sealed ? String(info.sealed) : 'no'],
            ['states', countLine(counts, tasks.length)],
          ]),
        );
      }),
    );

  withCommon(group.command('list <taskGroupId>'))
    .description('the tasks of the group with their states')
    .action(
      withApi(async (api, taskGroupId: string, opts: CommonOptions) => {
        const tasks = await listGroup(api, taskGroupId);
        if (opts.json) return printJson({ taskGroupId, tasks });
        if (tasks.length === 0) return note('no tasks in this group');
        print(
          table(
            ['TASK', 'STATE', 'RUNS', 'NAME'],
            tasks.map((t) => [
              t.status.taskId,
              state(t.status.state),
              String(t.status.runs.length),
              t.task.metadata?.name ?? '',
            ]),
          ),
        );
      }),
    );

  withCommon(group.command('seal <taskGroupId>'))
    .description('seal the group: no task can be added to it any more')
    .action(
      withApi(async (api, taskGroupId: string, opts: CommonOptions) => {
        const info = await api.call<GroupInfo>('queue', 'sealTaskGroup', taskGroupId);
        if (opts.json) return printJson(info);
        print(`${taskGroupId} sealed at ${info.sealed}`);
      }),
    );

  withCommon(group.command('cancel <taskGroupId>'))
    .description('seal the group and cancel every task of it that is not resolved')
    .action(
      withApi(async (api, taskGroupId: string, opts: CommonOptions) => {
        // The queue cancels only sealed groups, so no task can be added behind the cancellation.
        await api.call<GroupInfo>('queue', 'sealTaskGroup', taskGroupId);
        const res = await api.call<{ cancelledCount?: number; taskGroupSize?: number }>(
          'queue',
          'cancelTaskGroup',
          taskGroupId,
        );
        if (opts.json) return printJson(res);
        print(
          `${taskGroupId}: sealed; ${res.cancelledCount ?? 0} of ${res.taskGroupSize ?? '?'} tasks cancelled`,
        );
      }),
    );

  withCommon(group.command('watch <taskGroupId>'))
    .description(
      'a live progress line until every task of the group is resolved; exit 0 if all completed, else 1',
    )
    .option('--interval <seconds>', 'seconds between checks', (v) => Math.max(0.2, Number(v) || 2), 2)
    .action(
      withApi(async (api, taskGroupId: string, opts: CommonOptions & { interval: number }) => {
        const tty = Boolean(process.stdout.isTTY) && !opts.json;
        let last = '';
        for (;;) {
          const tasks = await listGroup(api, taskGroupId);
          const counts = count(tasks);
          const total = tasks.length;
          const done = total > 0 && unresolved(counts) === 0;
          if (opts.json) {
            const line = JSON.stringify({ taskGroupId, total, counts });
            if (line !== last) print(line);
            last = line;
          } else {
            const resolved = total - unresolved(counts);
            const line = `${bar(counts, total)} ${resolved}/${total}  ${countLine(counts, total)}`;
            if (tty) process.stdout.write(`\r\x1b[2K${line}`);
            else if (line !== last) print(line);
            last = line;
          }
          if (done) {
            if (tty) process.stdout.write('\n');
            process.exitCode = counts.completed === total ? 0 : 1;
            return;
          }
          await sleep(opts.interval * 1000);
        }
      }),
    );
}
