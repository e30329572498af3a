/** Task definitions from files (YAML or JSON), with the defaults `task create` fills in. */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, resolve } from 'node:path';
import taskcluster from 'taskcluster-client';
import YAML from 'yaml';
import { UserError } from '../fail.ts';

export type TaskDefinition = Record<string, unknown>;

const DAY = 24 * 3600_000;
/** Where tasks go when the file names no task queue: the local worker pool of `taskyard up`. */
export const DEFAULT_TASK_QUEUE = 'local/default';
const DATE_FIELDS = ['created', 'deadline', 'expires'] as const;

/** Reads a task definition; `-` is stdin. */
export function readTaskFile(file: string): TaskDefinition {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' ? `${file}: no such file` : `cannot read ${file}: ${(err as Error).message}`,
    );
  }
  let value: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both; errors name the line.
    value = YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw new UserError(`${file} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new UserError(`${file} must hold one task definition (a mapping), not ${describe(value)}`);
  }
  return value as TaskDefinition;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}

/**
 * A task definition with what the queue requires filled in when missing: dates (created now,
 * deadline +1 day, expires +30 days; relative values such as `2 hours` are accepted for each),
 * taskGroupId (= taskId), schedulerId `-`, taskQueueId `local/default` (unless
 * provisionerId/workerType are given), priority `lowest`, retries 5, metadata.
 */
export function withDefaults(
  def: TaskDefinition,
  opts: { taskId: string; file: string; rootUrl: string; now?: Date },
): TaskDefinition {
  const now = opts.now ?? new Date();
  const task: TaskDefinition = { ...def };
  for (const field of DATE_FIELDS) {
    const v = task[field];
    if (v instanceof Date) task[field] = v.toJSON();
    else if (typeof v === 'string' && Number.isNaN(Date.parse(v))) {
      try {
        task[field] = taskcluster.fromNowJSON(v, now);
      } catch {
        throw new UserError(
          `${field} ${JSON.stringify(v)} is neither a date nor a time from now such as "2 hours" or "1 day"`,
        );
      }
    }
  }
  task.created ??= now.toJSON();
  task.deadline ??= new Date(now.getTime() + DAY).toJSON();
  task.expires ??= new Date(now.getTime() + 30 * DAY).toJSON();
  task.taskGroupId ??= opts.taskId;
  task.schedulerId ??= '-';
  if (task.taskQueueId === undefined && task.provisionerId === undefined && task.workerType === undefined) {
    task.taskQueueId = DEFAULT_TASK_QUEUE;
  }
  task.priority ??= 'lowest';
  task.retries ??= 5;
  task.payload ??= {};
  const meta = (task.metadata ?? {}) as Record<string, unknown>;
  if (typeof meta !== 'object' || Array.isArray(meta)) {
    throw new UserError('metadata must be a mapping (name, description, owner, source)');
  }
  const name = basename(opts.file === '-' ? 'stdin' : opts.file).replace(/\.(ya?ml|json)$/, '');
  task.metadata = {
    name: meta.name ?? name,
    description:
      meta.description ??
      `Created by taskyard task create from ${opts.file === '-' ? 'stdin' : resolve(opts.file)}`,
    owner: meta.owner ?? `${safeUser()}@localhost`,
    source:
      meta.source ??
      `${/^https?:\/\//.test(opts.rootUrl) ? opts.rootUrl : 'https://localhost'}/tasks/${opts.taskId}`,
  };
  return task;
}

function safeUser(): string {
  try {
    return userInfo().username || 'user';
  } catch {
    return 'user';
  }
}

/** A new task from an existing definition: fresh taskId and dates, the rest kept. */
export function retriggered(
  def: TaskDefinition,
  opts: { taskId: string; now?: Date; keepDependencies: boolean },
): TaskDefinition {
  const now = opts.now ?? new Date();
  const created = Date.parse(String(def.created));
  const shift = (field: string) => {
    const t = Date.parse(String(def[field]));
    // Keep the original's durations relative to its creation.
    return Number.isNaN(t) || Number.isNaN(created)
      ? undefined
      : new Date(now.getTime() + (t - created)).toJSON();
  };
  const task: TaskDefinition = {
    ...def,
    created: now.toJSON(),
    deadline: shift('deadline') ?? new Date(now.getTime() + DAY).toJSON(),
    expires: shift('expires') ?? new Date(now.getTime() + 30 * DAY).toJSON(),
  };
  // The new task keeps the group, so it appears next to the one it retriggers.
  if (!opts.keepDependencies) {
    task.dependencies = [];
  }
  return task;
}
