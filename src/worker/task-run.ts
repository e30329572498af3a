import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { satisfiesExpression } from '../platform/scopes/index.ts';
import {
  errorArtifact,
  filesUnder,
  guessContentType,
  kindOf,
  type UploadContext,
  uploadFile,
} from './artifacts.ts';
import type { CacheLease, CacheManager } from './caches.ts';
import type { WorkerConfig } from './config.ts';
import { ContentError, decompress, fetchContent, insideDir, SUPPORTED_ARCHIVES, unpack } from './content.ts';
import { copyOut, imageExists, removeContainer, runContainer } from './engines/container.ts';
import { BWRAP, runProcess } from './engines/process.ts';
import type { CommandResult } from './engines/types.ts';
import { fetchInputs } from './inputs.ts';
import { TaskLog } from './live-log.ts';
import { validateDockerPayload, validateGenericPayload } from './payload.ts';
import { type Plan, planDocker, planGeneric } from './plan.ts';
import { startTaskclusterProxy } from './proxy.ts';
import { type Claim, type Credentials, type QueueClient, statusOf } from './queue-client.ts';

export type Resolution =
  | { state: 'completed' }
  | { state: 'failed' }
  | {
      state: 'exception';
      reason:
        | 'malformed-payload'
        | 'intermittent-task'
        | 'worker-shutdown'
        | 'internal-error'
        | 'resource-unavailable';
    }
  /** The run was resolved elsewhere (cancelled, deadline, claim lost): report nothing. */
  | { state: 'gone' };

export interface RunDeps {
  config: WorkerConfig;
  queue: QueueClient;
  caches: CacheManager;
  logger: Logger;
  containerCli?: string;
}

class Malformed extends Error {}

const MINIMAL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** One claimed run: from the claim to its resolution. */
export class TaskRun {
  readonly taskId: string;
  readonly runId: number;
  private credentials: Credentials;
  private takenUntil: number;
  private reclaimTimer: NodeJS.Timeout | undefined;
  private readonly kill = new AbortController();
  private stopReason: 'worker-shutdown' | 'gone' | undefined;
  private readonly logger: Logger;
  private log!: TaskLog;
  private readonly taskDir: string;

  constructor(
    private readonly deps: RunDeps,
    private readonly claim: Claim,
  ) {
    this.taskId = claim.status.taskId;
    this.runId = claim.runId;
    this.credentials = claim.credentials;
    this.takenUntil = Date.parse(claim.takenUntil);
    this.logger = deps.logger.child({ taskId: this.taskId, runId: this.runId });
    this.taskDir = join(
      deps.config.workDir,
      `${this.taskId}-${this.runId}-${randomBytes(3).toString('hex')}`,
    );
  }

  /** Kills the task for a worker shutdown: it resolves `exception/worker-shutdown`. */
  shutdown(): void {
    if (this.stopReason) return;
    this.stopReason = 'worker-shutdown';
    this.kill.abort();
  }

  private get upload(): UploadContext {
    return {
      queue: this.deps.queue,
      taskId: this.taskId,
      runId: this.runId,
      credentials: () => this.credentials,
    };
  }

  private scheduleReclaim(): void {
    // A third of the remaining claim: two more tries before it lapses.
    const wait = Math.max(500, (this.takenUntil - Date.now()) / 3);
    this.reclaimTimer = setTimeout(() => void this.reclaim(), wait);
  }

  private async reclaim(): Promise<void> {
    try {
      const res = await this.deps.queue.reclaimTask(this.credentials, this.taskId, this.runId);
      this.credentials = res.credentials;
      this.takenUntil = Date.parse(res.takenUntil);
      this.logger.debug({ takenUntil: res.takenUntil }, 'reclaimed');
    } catch (err) {
      const status = statusOf(err);
      if (status === 409 || status === 404) {
        // Cancelled, past its deadline or claimed away: stop working on it.
        this.logger.info({ err }, 'the run is no longer ours; stopping it');
        this.log?.worker(
          `The run is no longer claimed by this worker (${(err as Error).message}); stopping.`,
        );
        if (!this.stopReason) {
          this.stopReason = 'gone';
          this.kill.abort();
        }
        return;
      }
      this.logger.warn({ err }, 'reclaim failed; trying again');
    }
    if (!this.stopReason || this.stopReason === 'worker-shutdown') this.scheduleReclaim();
  }

  async run(): Promise<Resolution> {
    const { config } = this.deps;
    const started = Date.now();
    await mkdir(this.taskDir, { recursive: true, mode: 0o755 });
    const logDir = join(config.workDir, '.logs');
    await mkdir(logDir, { recursive: true, mode: 0o700 });
    const isContainer = config.engine === 'container';
    const validated = isContainer
      ? validateDockerPayload(this.claim.task.payload)
      : validateGenericPayload(this.claim.task.payload);
    const plan: Plan | undefined = validated.ok
      ? isContainer
        ? planDocker(validated.payload as never)
        : planGeneric(validated.payload as never)
      : undefined;
    const liveLog = plan?.liveLog ?? true;
    this.log = new TaskLog(join(logDir, `${this.taskId}-${this.runId}.log`), this.logger, liveLog);
    const expires = this.claim.task.expires;
    const leases: Array<{ lease: CacheLease; mountedAt?: string }> = [];
    this.scheduleReclaim();
    let resolution: Resolution = { state: 'exception', reason: 'internal-error' };
    let exitCode: number | null = null;
    const liveLogName = plan?.liveLogName ?? 'public/logs/live.log';
    try {
      if (liveLog) await this.createLiveLogArtifact(liveLogName, expires);
      this.header(plan);
      if (!validated.ok) {
        this.log.worker('The task payload is invalid:');
        for (const e of validated.errors) this.log.worker(`  ${e}`);
        throw new Malformed('malformed payload');
      }
      if (!plan) throw new Malformed('no plan');
      this.checkPlan(plan);
      if (plan.caches.length > 0) await this.applyPurgeRequests();
      for (const cache of plan.caches) leases.push({ lease: this.deps.caches.acquire(cache.name) });
      await this.prepare(plan, leases);
      const result = await this.runCommands(plan, leases);
      exitCode = result.exitCode;
      if (this.stopReason) {
        resolution =
          this.stopReason === 'gone' ? { state: 'gone' } : { state: 'exception', reason: 'worker-shutdown' };
      } else {
        const uploadedOk = await this.uploadArtifacts(plan, expires);
        if (
          result.exitCode !== null &&
          result.exitCode !== 0 &&
          plan.retryExitCodes.includes(result.exitCode)
        ) {
          this.log.worker(
            `Exit code ${result.exitCode} is listed in onExitStatus.retry: resolving as intermittent-task.`,
          );
          resolution = { state: 'exception', reason: 'intermittent-task' };
        } else if (result.exitCode === 0 && uploadedOk) resolution = { state: 'completed' };
        else resolution = { state: 'failed' };
      }
      const purge = exitCode !== null && plan.purgeCacheExitCodes.includes(exitCode);
      if (purge && leases.length > 0)
        this.log.worker(
          `Exit code ${exitCode} is listed in onExitStatus.purgeCaches: the task's caches are purged.`,
        );
      await this.returnCaches(leases, purge);
    } catch (err) {
      await this.returnCaches(leases, false);
      if (err instanceof Malformed) {
        if (err.message !== 'malformed payload') this.log.worker(err.message);
        resolution = { state: 'exception', reason: 'malformed-payload' };
      } else if (err instanceof ContentError) {
        this.log.worker(`Error: ${err.message}`);
        resolution = { state: 'failed' };
      } else if (this.stopReason) {
        resolution =
          this.stopReason === 'gone' ? { state: 'gone' } : { state: 'exception', reason: 'worker-shutdown' };
      } else {
        this.logger.error({ err }, 'task run failed inside the worker');
        this.log.worker(`Worker error: ${(err as Error).message}`);
        resolution = { state: 'exception', reason: 'internal-error' };
      }
    }
    if (config.engine === 'container' && this.deps.containerCli) {
      await removeContainer(this.deps.containerCli, this.containerName);
    }
    this.footer(resolution, exitCode, Date.now() - started);
    await this.log.close();
    if (resolution.state !== 'gone') {
      if (plan?.backingLog ?? true) {
        await uploadFile(this.upload, plan?.backingLogName ?? 'public/logs/live_backing.log', this.log.path, {
          contentType: 'text/plain; charset=utf-8',
          expires,
        }).catch((err) => this.logger.error({ err }, 'cannot upload the backing log'));
      }
    }
    if (this.reclaimTimer) clearTimeout(this.reclaimTimer);
    await this.resolve(resolution);
    await rm(this.log.path, { force: true });
    if (!config.keepTaskDirs) await rm(this.taskDir, { recursive: true, force: true });
    return resolution;
  }

  private async createLiveLogArtifact(name: string, expires: string): Promise<void> {
    try {
      await this.deps.queue.createArtifact(this.credentials, this.taskId, this.runId, name, {
        storageType: 'reference',
        expires,
        contentType: 'text/plain; charset=utf-8',
        url: this.deps.queue.liveLogUrl(this.taskId, this.runId),
      });
      this.log.startLive({
        queue: this.deps.queue,
        taskId: this.taskId,
        runId: this.runId,
        credentials: () => this.credentials,
      });
    } catch (err) {
      this.logger.warn({ err }, 'cannot create the live log artifact; the log is uploaded at the end only');
      this.log.disableLive();
    }
  }

  private header(plan: Plan | undefined): void {
    const { config } = this.deps;
    this.log.worker(
      `Task ${this.taskId} run ${this.runId} on worker ${config.workerGroup}/${config.workerId}`,
    );
    const engine =
      config.engine === 'container'
        ? `container (${this.deps.containerCli ?? 'no container CLI'}${plan?.image ? `, image ${plan.image}` : ''})`
        : `process${config.sandbox === 'bwrap' ? ' (bubblewrap sandbox)' : ''}`;
    this.log.worker(
      `Engine: ${engine}; task queue ${config.taskQueueId}; started ${new Date().toISOString()}`,
    );
  }

  private footer(resolution: Resolution, exitCode: number | null, ms: number): void {
    const outcome = resolution.state === 'exception' ? `exception/${resolution.reason}` : resolution.state;
    this.log.worker(
      `Finished: ${outcome}; exit code ${exitCode ?? 'none'}; took ${(ms / 1000).toFixed(3)} s` +
        (this.peak ? `; peak memory ${this.peak} KiB (${this.peakSource})` : ''),
    );
  }

  private peak: number | undefined;
  private peakSource: string | undefined;

  /** Refuses what this worker will not run, before anything is fetched. */
  private checkPlan(plan: Plan): void {
    const { config } = this.deps;
    if (plan.maxRunTime > config.maxTaskRunTime) {
      throw new Malformed(
        `payload.maxRunTime ${plan.maxRunTime} is more than this worker allows (${config.maxTaskRunTime} seconds)`,
      );
    }
    for (const cache of plan.caches) {
      const scope = `${plan.cacheScopePrefix}${cache.name}`;
      if (!satisfiesExpression(this.claim.task.scopes, scope)) {
        throw new Malformed(`The task uses cache ${cache.name} but lacks the scope ${scope}`);
      }
    }
    for (const m of plan.mounts) {
      if ('format' in m && m.format && 'directory' in m && !SUPPORTED_ARCHIVES.includes(m.format)) {
        throw new Malformed(`Mount format ${m.format} is not supported by this worker`);
      }
    }
    const paths = (p: string, what: string) => {
      try {
        insideDir(this.taskDir, p, what);
      } catch (err) {
        throw new Malformed((err as Error).message);
      }
    };
    if (config.engine === 'process') {
      for (const m of plan.mounts) paths('file' in m ? m.file : m.directory, 'mount path');
      for (const c of plan.caches) paths(c.path, 'cache directory');
      for (const a of plan.artifacts) paths(a.path, 'artifact path');
    }
    for (const i of plan.inputs) paths(i.path, 'input path');
    if (config.engine === 'container' && !this.deps.containerCli) {
      throw new Malformed('This worker has no container CLI (podman or docker)');
    }
  }

  private async applyPurgeRequests(): Promise<void> {
    try {
      const requests = await this.deps.queue.purgeRequests(this.deps.config.taskQueueId);
      const purged = this.deps.caches.applyPurgeRequests(requests);
      if (purged.length > 0) this.log.worker(`Purged caches: ${[...new Set(purged)].join(', ')}`);
    } catch (err) {
      this.logger.warn({ err }, 'cannot read purge requests; caches are used as they are');
    }
  }

  /** Caches in place, mounts fetched, inputs written. */
  private async prepare(plan: Plan, leases: Array<{ lease: CacheLease; mountedAt?: string }>): Promise<void> {
    const staging = join(this.deps.config.workDir, '.staging', `${this.taskId}-${this.runId}`);
    await mkdir(staging, { recursive: true });
    const fetchCtx = { queue: this.deps.queue, credentials: () => this.credentials };
    try {
      const payloadMounts = this.claim.task.payload as { mounts?: Array<Record<string, unknown>> };
      for (const [i, cache] of plan.caches.entries()) {
        const held = leases[i]!;
        if (held.lease.fresh) {
          const preload = (payloadMounts.mounts ?? []).find((m) => m.cacheName === cache.name);
          if (preload?.content) {
            const file = join(staging, `cache-${i}`);
            await fetchContent(preload.content as never, file, fetchCtx);
            await unpack(preload.format as never, file, held.lease.dir);
          }
        }
        if (this.deps.config.engine === 'process') {
          const target = insideDir(this.taskDir, cache.path, 'cache directory');
          await mkdir(dirname(target), { recursive: true });
          await rm(target, { recursive: true, force: true });
          // Moved into the task directory (and back afterwards), so the sandbox sees it too.
          try {
            await rename(held.lease.dir, target);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
            await symlink(held.lease.dir, target);
          }
          held.mountedAt = target;
        }
        this.log.worker(`Cache ${cache.name} at ${cache.path}${held.lease.fresh ? ' (new)' : ' (reused)'}`);
      }
      for (const [i, m] of plan.mounts.entries()) {
        const file = join(staging, `mount-${i}`);
        this.log.worker(`Mounting ${'file' in m ? `file ${m.file}` : `directory ${m.directory}`}`);
        await fetchContent(m.content, file, fetchCtx);
        if ('file' in m) {
          const target = insideDir(this.taskDir, m.file, 'mount path');
          await mkdir(dirname(target), { recursive: true });
          if (m.format) await decompress(m.format, file, target);
          else await rename(file, target);
        } else {
          await unpack(m.format, file, insideDir(this.taskDir, m.directory, 'mount path'));
        }
      }
      await fetchInputs(plan.inputs, {
        queue: this.deps.queue,
        credentials: () => this.credentials,
        task: this.claim.task,
        taskDir: this.taskDir,
        log: (line) => this.log.worker(line),
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  private async returnCaches(leases: Array<{ lease: CacheLease; mountedAt?: string }>, purge: boolean) {
    for (const held of leases.splice(0)) {
      try {
        if (held.mountedAt) {
          const kind = await kindOf(held.mountedAt);
          if (kind === 'directory') {
            await rm(held.lease.dir, { recursive: true, force: true });
            await rename(held.mountedAt, held.lease.dir);
          } else if (kind !== 'other') {
            // The task removed its cache directory: the cache starts empty next time.
            await mkdir(held.lease.dir, { recursive: true });
          } else await rm(held.mountedAt, { force: true });
        }
        held.lease.release({ purge: purge || !existsSync(held.lease.dir) });
      } catch (err) {
        this.logger.warn({ err }, 'cannot return a cache; it is purged');
        held.lease.release({ purge: true });
      }
    }
  }

  private taskEnv(plan: Plan): Record<string, string> {
    const base: Record<string, string> =
      this.deps.config.engine === 'container' ? {} : { PATH: MINIMAL_PATH, HOME: this.taskDir };
    return {
      ...base,
      ...plan.env,
      TASK_ID: this.taskId,
      RUN_ID: String(this.runId),
      TASKCLUSTER_ROOT_URL: this.deps.queue.rootUrl,
      ...(this.deps.config.engine === 'process' ? { TASK_WORKDIR: this.taskDir } : {}),
    };
  }

  /** The commands in order, stopping at the first failure; maxRunTime covers them all. */
  private async runCommands(plan: Plan, leases: Array<{ lease: CacheLease; mountedAt?: string }>) {
    const proxy = plan.taskclusterProxy
      ? await startTaskclusterProxy({
          rootUrl: this.deps.queue.rootUrl,
          credentials: () => this.credentials,
          scopes: this.claim.task.scopes ?? [],
          logger: this.logger,
        })
      : undefined;
    const env = { ...this.taskEnv(plan), ...(proxy ? { TASKCLUSTER_PROXY_URL: proxy.url } : {}) };
    if (proxy) this.log.worker(`Taskcluster proxy for the task's scopes at ${proxy.url}`);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.kill.abort();
    }, plan.maxRunTime * 1000);
    let last: CommandResult = { exitCode: 0, durationMs: 0 };
    try {
      for (const argv of plan.commands) {
        if (this.kill.signal.aborted) break;
        this.log.worker(
          argv.length > 0 ? `Running: ${argv.map(quote).join(' ')}` : 'Running the image command',
        );
        const spec = {
          argv,
          env,
          signal: this.kill.signal,
          onOutput: (stream: 'stdout' | 'stderr', chunk: string) => this.log.output(stream, chunk),
        };
        if (this.deps.config.engine === 'container') {
          last = await runContainer(spec, {
            cli: this.deps.containerCli as string,
            name: this.containerName,
            image: plan.image as string,
            binds: [
              ...plan.caches.map((c, i) => ({ host: leases[i]!.lease.dir, container: c.path })),
              { host: this.taskDir, container: '/task' },
            ],
            hostNetwork: proxy !== undefined,
          });
        } else {
          const sandbox =
            this.deps.config.sandbox === 'bwrap'
              ? {
                  writable: leases.flatMap((l) =>
                    l.mountedAt && existsSync(l.lease.dir) ? [l.lease.dir] : [],
                  ),
                  shareNet: proxy !== undefined,
                }
              : undefined;
          last = await runProcess(spec, { cwd: this.taskDir, sandbox });
        }
        this.log.endOutput();
        if (last.peakRssKiB !== undefined && last.peakRssKiB > (this.peak ?? 0)) {
          this.peak = last.peakRssKiB;
          this.peakSource = last.rssSource;
        }
        if (timedOut) {
          this.log.worker(
            `Aborted: the task exceeded its maxRunTime of ${plan.maxRunTime} seconds; its processes were killed.`,
          );
          return { ...last, exitCode: last.exitCode === 0 ? null : last.exitCode };
        }
        if (last.killedBy) this.log.worker(`The command was killed by ${last.killedBy}`);
        else this.log.worker(`Exit code: ${last.exitCode}`);
        if (last.exitCode !== 0) return last;
      }
      return last;
    } finally {
      clearTimeout(timer);
      await proxy?.close();
    }
  }

  private get containerName(): string {
    return `taskyard-${this.taskId}-${this.runId}`.replace(/[^a-zA-Z0-9_.-]/g, '_');
  }

  /** Uploads the artifacts; false when a required one is missing. */
  private async uploadArtifacts(plan: Plan, taskExpires: string): Promise<boolean> {
    let ok = true;
    const isContainer = this.deps.config.engine === 'container';
    const outDir = join(this.taskDir, '.taskyard-artifacts');
    try {
      for (const [i, a] of plan.artifacts.entries()) {
        const expires = a.expires ?? taskExpires;
        let path: string;
        if (isContainer) {
          path = join(outDir, String(i));
          await mkdir(outDir, { recursive: true });
          await copyOut(this.deps.containerCli as string, this.containerName, a.path, path);
        } else path = insideDir(this.taskDir, a.path, 'artifact path');
        const kind = await kindOf(path);
        if (kind !== a.type) {
          const what = kind === 'missing' ? 'does not exist' : `is not a ${a.type}`;
          if (a.optional) {
            this.log.worker(`Optional artifact ${a.name}: ${a.path} ${what}; skipped`);
            continue;
          }
          this.log.worker(`Artifact ${a.name}: ${a.path} ${what}; the run fails`);
          await errorArtifact(this.upload, a.name, `${a.path} ${what} on the worker`, expires);
          ok = false;
          continue;
        }
        if (a.type === 'file') {
          await uploadFile(this.upload, a.name, path, {
            contentType: a.contentType ?? guessContentType(a.path),
            expires,
          });
          this.log.worker(`Uploaded artifact ${a.name}`);
        } else {
          const files = await filesUnder(path);
          for (const f of files) {
            const name = `${a.name.replace(/\/+$/, '')}/${f}`;
            await uploadFile(this.upload, name, join(path, f), {
              contentType: a.contentType ?? guessContentType(f),
              expires,
            });
          }
          this.log.worker(`Uploaded directory artifact ${a.name} (${files.length} files)`);
        }
      }
    } finally {
      if (isContainer) await removeContainer(this.deps.containerCli as string, this.containerName);
    }
    return ok;
  }

  private async resolve(resolution: Resolution): Promise<void> {
    const { queue } = this.deps;
    try {
      if (resolution.state === 'completed')
        await queue.reportCompleted(this.credentials, this.taskId, this.runId);
      else if (resolution.state === 'failed')
        await queue.reportFailed(this.credentials, this.taskId, this.runId);
      else if (resolution.state === 'exception')
        await queue.reportException(this.credentials, this.taskId, this.runId, resolution.reason);
      this.logger.info({ resolution }, 'run resolved');
    } catch (err) {
      // 409: resolved meanwhile (cancelled, deadline); anything else leaves the claim to expire.
      this.logger.warn({ err, resolution }, 'cannot resolve the run');
    }
  }
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export { BWRAP, imageExists };
