import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { type CommandResult, type CommandSpec, KILL_GRACE_MS } from './types.ts';

const exec = promisify(execFile);

/** The Docker-compatible CLI: the configured one, else podman, else docker, found on PATH. */
export function detectContainerCli(configured?: string): string | undefined {
  if (configured) return configured;
  const dirs = (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':');
  for (const name of ['podman', 'docker']) {
    for (const dir of dirs) {
      if (dir && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
    }
  }
  return undefined;
}

const isPodman = (cli: string) => /podman$/.test(cli);

export interface ContainerRun {
  cli: string;
  /** Unique per run: the container is removed by name afterwards. */
  name: string;
  image: string;
  binds: Array<{ host: string; container: string; readOnly?: boolean }>;
  /** The host's network (to reach the taskcluster proxy on its loopback) instead of none. */
  hostNetwork?: boolean;
}

/**
 * Runs the image's command (or `spec.argv` when given) in a new container without network, with
 * modest ulimits. The container is kept after it exits so artifacts can be copied out; call
 * `removeContainer` when done.
 */
export function runContainer(spec: CommandSpec, run: ContainerRun): Promise<CommandResult> {
  const started = Date.now();
  const args = [
    ...(isPodman(run.cli) && existsSync('/usr/sbin/runc') ? ['--runtime', 'runc'] : []),
    'run',
    '--name',
    run.name,
    run.hostNetwork ? '--network=host' : '--network=none',
    '--ulimit',
    'nofile=1024:1024',
    '--ulimit',
    'nproc=1024:1024',
  ];
  for (const b of run.binds) args.push('-v', `${b.host}:${b.container}${b.readOnly ? ':ro' : ''}`);
  for (const [k, v] of Object.entries(spec.env)) args.push('-e', `${k}=${v}`);
  args.push(run.image, ...spec.argv);
  return new Promise((resolve) => {
    const child = spawn(run.cli, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let killedBy: string | undefined;
    const onAbort = () => {
      killedBy = 'SIGKILL';
      // Stopping the container (not the CLI) is what ends the task's processes.
      execFile(run.cli, ['kill', run.name], () => undefined);
      setTimeout(() => execFile(run.cli, ['rm', '-f', run.name], () => undefined), KILL_GRACE_MS).unref();
    };
    if (spec.signal.aborted) onAbort();
    else spec.signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (c: string) => spec.onOutput('stdout', c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => spec.onOutput('stderr', c));
    child.on('error', (err) => spec.onOutput('stderr', `cannot run ${run.cli}: ${err.message}\n`));
    child.on('close', (code) => {
      spec.signal.removeEventListener('abort', onAbort);
      resolve({
        exitCode: killedBy ? null : code,
        ...(killedBy ? { killedBy } : {}),
        durationMs: Date.now() - started,
      });
    });
  });
}

/** Copies a path out of the (stopped) container; false when it is not there. */
export async function copyOut(cli: string, name: string, from: string, to: string): Promise<boolean> {
  try {
    await exec(cli, ['cp', `${name}:${from}`, to]);
    return true;
  } catch {
    return false;
  }
}

export async function removeContainer(cli: string, name: string): Promise<void> {
  await exec(cli, ['rm', '-f', name]).catch(() => undefined);
}

/** Whether a local image of this name exists (the container engine never pulls). */
export async function imageExists(cli: string, image: string): Promise<boolean> {
  try {
    await exec(cli, ['image', 'inspect', image]);
    return true;
  } catch {
    return false;
  }
}
