/**
 * The load-generating processes of the queue benchmark, seen from the orchestrator: forks them,
 * starts jobs in them, follows their progress and collects their results and CPU.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, stopChild } from './harness.ts';
import type { Credentials } from './queue-http.ts';
import type { CreateResult, FromLoad, Job, ToLoad, WorkResult } from './queue-load.ts';

export interface RunningJob<R> {
  id: number;
  proc: number;
  /** Tasks created or completed so far, and failures, from the latest progress message. */
  done: number;
  failures: number;
  firstFailure?: string;
  /** Resolves once every lane has sent its first claimWork (work jobs). */
  polling: Promise<void>;
  result: Promise<R>;
}

interface Pending {
  job: RunningJob<unknown>;
  resolve(r: unknown): void;
  reject(e: Error): void;
  polled(): void;
}

export class LoadPool {
  private nextId = 1;
  private readonly jobs = new Map<number, Pending>();
  private readonly cpuWaiters = new Map<number, (micros: number) => void>();
  private dead: string | undefined;

  private constructor(private readonly children: ChildProcess[]) {}

  static async start(count: number, rootUrl: string, credentials: Credentials): Promise<LoadPool> {
    const children = Array.from({ length: count }, () =>
      fork(join(repoRoot, 'bench', 'queue-load.ts'), [], {
        cwd: repoRoot,
        // BENCH_LOAD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/load-prof") profiles them.
        execArgv: [
          '--import',
          'tsx',
          ...(process.env.BENCH_LOAD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
        ],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      }),
    );
    const pool = new LoadPool(children);
    await Promise.all(
      children.map(
        (child, index) =>
          new Promise<void>((resolve, reject) => {
            child.on('message', (m: FromLoad) => {
              if (m.type === 'ready') resolve();
              else pool.onMessage(m);
            });
            child.once('exit', (code, signal) => {
              const why = `load process ${index} ended (${signal ?? `exit code ${code}`})`;
              pool.dead ??= why;
              reject(new Error(why));
              for (const p of pool.jobs.values()) if (p.job.proc === index) p.reject(new Error(why));
            });
            child.send({ type: 'init', rootUrl, credentials, index } satisfies ToLoad);
          }),
      ),
    );
    return pool;
  }

  get size(): number {
    return this.children.length;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid!);
  }

  private onMessage(m: FromLoad): void {
    if (m.type === 'cpu') {
      this.cpuWaiters.get(m.token)?.(m.micros);
      return;
    }
    const p = m.type === 'ready' ? undefined : m.id === undefined ? undefined : this.jobs.get(m.id);
    if (m.type === 'error' && !p) {
      this.dead ??= m.message;
      return;
    }
    if (!p) return;
    if (m.type === 'progress') {
      p.job.done = m.done;
      p.job.failures = m.failures;
      p.job.firstFailure ??= m.sample;
    } else if (m.type === 'polling') {
      p.polled();
    } else if (m.type === 'result') {
      this.jobs.delete(p.job.id);
      p.job.failures = m.result.failures;
      p.resolve(m.result);
    } else if (m.type === 'error') {
      this.jobs.delete(p.job.id);
      p.reject(new Error(`load process ${p.job.proc}: ${m.message}`));
    }
  }

  run(proc: number, job: Job & { kind: 'create' }): RunningJob<CreateResult>;
  run(proc: number, job: Job & { kind: 'work' }): RunningJob<WorkResult>;
  run(proc: number, job: Job): RunningJob<unknown> {
    if (this.dead) throw new Error(this.dead);
    const id = this.nextId++;
    let resolve: (r: unknown) => void = () => {};
    let reject: (e: Error) => void = () => {};
    let polled: () => void = () => {};
    const result = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const polling = new Promise<void>((res) => {
      polled = res;
    });
    const running: RunningJob<unknown> = { id, proc, done: 0, failures: 0, polling, result };
    // A job that fails is reported by whoever awaits it; this keeps Node from calling it unhandled meanwhile.
    result.catch(() => {});
    this.jobs.set(id, { job: running, resolve, reject, polled });
    this.children[proc].send({ type: 'start', id, job } satisfies ToLoad);
    return running;
  }

  /** Asks a work job to stop; its result follows. */
  stop(job: RunningJob<unknown>): void {
    this.children[job.proc].send({ type: 'stop', id: job.id } satisfies ToLoad);
  }

  /** CPU seconds the load processes used so far, one figure per process. */
  async cpuSeconds(): Promise<number[]> {
    return Promise.all(
      this.children.map(
        (child) =>
          new Promise<number>((resolve) => {
            const token = this.nextId++;
            const timer = setTimeout(() => resolve(Number.NaN), 5000);
            this.cpuWaiters.set(token, (micros) => {
              clearTimeout(timer);
              this.cpuWaiters.delete(token);
              resolve(micros / 1e6);
            });
            child.send({ type: 'cpu', token } satisfies ToLoad);
          }),
      ),
    );
  }

  /** Why a load process ended early, if one did. */
  failure(): string | undefined {
    return this.dead;
  }

  /** Asks each process to exit (so that a `--cpu-prof` profile is written), killing it after 5 s. */
  async close(): Promise<void> {
    await Promise.all(this.children.map((c) => stopChild(c)));
  }
}
