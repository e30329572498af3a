import { existsSync, mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError } from '../platform/config.ts';
import { CacheManager } from './caches.ts';
import type { WorkerConfig } from './config.ts';
import { detectContainerCli } from './engines/container.ts';
import { BWRAP } from './engines/process.ts';
import { type Claim, QueueClient } from './queue-client.ts';
import { type Resolution, TaskRun } from './task-run.ts';

/**
 * The worker daemon: claims up to `capacity` runs at once, runs each, and on stop() finishes
 * (within the grace period) or kills what is running.
 */
export class Worker {
  readonly queue: QueueClient;
  readonly caches: CacheManager;
  private readonly running = new Set<TaskRun>();
  private readonly finished: Array<{ taskId: string; runId: number; resolution: Resolution }> = [];
  private stopping = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly containerCli: string | undefined;

  constructor(
    readonly config: WorkerConfig,
    private readonly logger: Logger,
  ) {
    mkdirSync(config.workDir, { recursive: true });
    this.caches = new CacheManager(config.cacheDir);
    this.queue = new QueueClient({ rootUrl: config.rootUrl, credentials: config.credentials });
    if (config.sandbox === 'bwrap' && !existsSync(BWRAP))
      throw new ConfigError(`worker setting "sandbox": bwrap is not installed at ${BWRAP}`);
    this.containerCli = config.engine === 'container' ? detectContainerCli(config.containerCli) : undefined;
    if (config.engine === 'container' && !this.containerCli)
      throw new ConfigError(
        'worker setting "engine": container needs podman or docker on PATH (or containerCli)',
      );
  }

  /** Runs resolved so far (tests and the log). */
  get results(): ReadonlyArray<{ taskId: string; runId: number; resolution: Resolution }> {
    return this.finished;
  }

  get runningCount(): number {
    return this.running.size;
  }

  start(): void {
    this.loop ??= this.claimLoop();
  }

  private async claimLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const free = this.config.capacity - this.running.size;
      if (free <= 0) {
        await new Promise<void>((r) => {
          this.wake = r;
        });
        continue;
      }
      let claims: Claim[];
      try {
        claims = await this.queue.claimWork(this.config.taskQueueId, {
          workerGroup: this.config.workerGroup,
          workerId: this.config.workerId,
          tasks: free,
        });
        failures = 0;
      } catch (err) {
        failures += 1;
        const delay = Math.min(60_000, 1000 * 2 ** Math.min(failures - 1, 6)) * (0.75 + Math.random() / 2);
        this.logger.warn({ err, retryInMs: Math.round(delay) }, 'claimWork failed; backing off');
        await this.sleep(delay);
        continue;
      }
      for (const claim of claims) this.launch(claim);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }

  private launch(claim: Claim): void {
    const run = new TaskRun(
      {
        config: this.config,
        queue: this.queue,
        caches: this.caches,
        logger: this.logger,
        containerCli: this.containerCli,
      },
      claim,
    );
    this.running.add(run);
    // Claimed while stopping: the task is handed back at once.
    if (this.stopping) run.shutdown();
    this.logger.info({ taskId: run.taskId, runId: run.runId }, 'running task');
    run
      .run()
      .then(
        (resolution) => this.finished.push({ taskId: run.taskId, runId: run.runId, resolution }),
        (err) => this.logger.error({ err, taskId: run.taskId }, 'task run crashed; its claim will expire'),
      )
      .finally(() => {
        this.running.delete(run);
        const w = this.wake;
        this.wake = undefined;
        w?.();
      });
  }

  /**
   * Stops claiming; running tasks get `graceMs` to finish, then are killed and resolved
   * `exception/worker-shutdown` (the queue retries them). Resolves when none is left.
   */
  async stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    this.stopping = true;
    const w = this.wake;
    this.wake = undefined;
    w?.();
    const deadline = Date.now() + graceMs;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const run of this.running) run.shutdown();
    // A claimWork still in flight may yet return tasks: `launch` hands them straight back
    // (worker-shutdown, so the queue retries them now rather than when their claim expires).
    await this.loop;
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 100));
  }
}
