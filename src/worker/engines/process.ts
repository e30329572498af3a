import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { type CommandResult, type CommandSpec, KILL_GRACE_MS } from './types.ts';

export const BWRAP = '/usr/bin/bwrap';

/**
 * The bubblewrap wrapper of a command: new pid, net, ipc and uts namespaces, the system read-only,
 * only the task directory (and `writable` paths) writable, a private /tmp, fresh /proc and /dev.
 */
export function bwrapArgs(
  taskDir: string,
  writable: readonly string[],
  argv: readonly string[],
  opts: { shareNet?: boolean } = {},
): string[] {
  const args = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent'];
  // A task with the taskcluster proxy must reach it on the worker's loopback.
  if (!opts.shareNet) args.push('--unshare-net');
  for (const dir of ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt']) {
    if (existsSync(dir)) args.push('--ro-bind', dir, dir);
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  for (const dir of [taskDir, ...writable]) args.push('--bind', dir, dir);
  args.push('--chdir', taskDir, '--', ...argv);
  return args;
}

/** Peak RSS of a process so far, from /proc (KiB), or undefined once it is gone. */
function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

/**
 * Runs one command as the leader of its own process group, in `cwd`, with exactly `spec.env`.
 * When it ends (or is aborted) the whole group is killed, so no grandchild outlives the task.
 */
export function runProcess(
  spec: CommandSpec,
  opts: { cwd: string; sandbox?: { writable: readonly string[]; shareNet?: boolean } },
): Promise<CommandResult> {
  const started = Date.now();
  const [file, ...args] = opts.sandbox
    ? [BWRAP, ...bwrapArgs(opts.cwd, opts.sandbox.writable, spec.argv, { shareNet: opts.sandbox.shareNet })]
    : spec.argv;
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file as string, args, {
        cwd: opts.cwd,
        env: spec.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      spec.onOutput('stderr', `cannot start ${spec.argv[0]}: ${(err as Error).message}\n`);
      resolve({ exitCode: 127, durationMs: 0 });
      return;
    }
    let peak: number | undefined;
    const sample = () => {
      if (child.pid === undefined) return;
      const now = peakRss(child.pid);
      if (now !== undefined) peak = Math.max(peak ?? 0, now);
    };
    const sampler = setInterval(sample, 250);
    let killTimer: NodeJS.Timeout | undefined;
    let killedBy: string | undefined;
    const kill = () => {
      if (child.pid === undefined) return;
      const pid = child.pid;
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    const onAbort = () => {
      killedBy = 'SIGTERM';
      kill();
    };
    if (spec.signal.aborted) onAbort();
    else spec.signal.addEventListener('abort', onAbort, { once: true });
    child.stdout?.setEncoding('utf8').on('data', (c: string) => spec.onOutput('stdout', c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => spec.onOutput('stderr', c));
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let spawnError: Error | undefined;
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Leftover members of the group (background jobs) would hold the pipes open: end them.
      if (child.pid !== undefined) {
        killGroup(child.pid, 'SIGTERM');
        setTimeout(() => child.pid !== undefined && killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS).unref();
      }
    });
    child.on('close', () => {
      clearInterval(sampler);
      if (killTimer) clearTimeout(killTimer);
      spec.signal.removeEventListener('abort', onAbort);
      if (spawnError && !exit) {
        spec.onOutput('stderr', `cannot start ${spec.argv[0]}: ${spawnError.message}\n`);
        resolve({ exitCode: 127, durationMs: Date.now() - started });
        return;
      }
      const signal = exit?.signal ?? undefined;
      resolve({
        exitCode: exit?.code ?? null,
        ...(signal || killedBy ? { killedBy: signal ?? killedBy } : {}),
        durationMs: Date.now() - started,
        ...(peak !== undefined
          ? { peakRssKiB: peak, rssSource: 'VmHWM of the command, sampled every 250 ms' }
          : {}),
      });
    });
  });
}
