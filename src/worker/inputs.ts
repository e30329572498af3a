import { mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ContentError, fetchContent, insideDir } from './content.ts';
import type { Input } from './payload.ts';
import type { Credentials, QueueClient, TaskDefinition } from './queue-client.ts';

/**
 * `inputs` (a Taskyard addition): artifacts of the task's dependencies, fetched from each
 * dependency's latest completed run and written into the task directory before the commands run.
 * `from` is a dependency's taskId or its metadata.name.
 */
export async function fetchInputs(
  inputs: readonly Input[],
  ctx: {
    queue: QueueClient;
    credentials: () => Credentials;
    task: TaskDefinition;
    taskDir: string;
    log: (line: string) => void;
  },
): Promise<void> {
  if (inputs.length === 0) return;
  const deps = ctx.task.dependencies ?? [];
  let names: Map<string, string[]> | undefined;
  const dependencyOf = async (from: string): Promise<string> => {
    if (deps.includes(from)) return from;
    if (!names) {
      names = new Map();
      for (const id of deps) {
        const def = await ctx.queue.taskDefinition(ctx.credentials(), id);
        const list = names.get(def.metadata.name) ?? [];
        list.push(id);
        names.set(def.metadata.name, list);
      }
    }
    const ids = names.get(from) ?? [];
    if (ids.length === 1) return ids[0] as string;
    if (ids.length > 1)
      throw new ContentError(
        `input from ${JSON.stringify(from)}: ${ids.length} dependencies have that name; use a taskId`,
      );
    throw new ContentError(
      `input from ${JSON.stringify(from)}: no dependency of this task has that taskId or name`,
    );
  };
  for (const input of inputs) {
    let depId: string;
    let status: Awaited<ReturnType<QueueClient['status']>>;
    try {
      depId = await dependencyOf(input.from);
      status = await ctx.queue.status(ctx.credentials(), depId);
    } catch (err) {
      if (err instanceof ContentError) throw err;
      // Typically a 403: the task's scopes do not let it read its dependencies.
      throw new ContentError(`input from ${JSON.stringify(input.from)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const run = [...status.runs].reverse().find((r) => r.state === 'completed');
    if (!run)
      throw new ContentError(`input ${input.artifact} from task ${depId}: the task has no completed run`);
    const target = insideDir(ctx.taskDir, input.path, 'input path');
    const staged = `${target}.taskyard-partial`;
    await mkdir(dirname(target), { recursive: true });
    const url = ctx.queue.artifactUrl(ctx.credentials(), depId, run.runId, input.artifact);
    try {
      await fetchContent({ url }, staged, ctx);
    } catch (err) {
      throw new ContentError(
        `input ${input.artifact} from task ${depId} run ${run.runId}: ${(err as Error).message.replace(/^cannot download URL \S+: /, '')}`,
        { cause: err },
      );
    }
    await rename(staged, target);
    ctx.log(`Input ${input.path}: ${input.artifact} from task ${depId} run ${run.runId}`);
  }
}
