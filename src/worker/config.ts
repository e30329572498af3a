import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import YAML from 'yaml';
import { ConfigError } from '../platform/config.ts';

/** How a worker runs: from flags, then the environment, then a config file, then defaults. */
export interface WorkerConfig {
  rootUrl: string;
  credentials: { clientId: string; accessToken: string; certificate?: string };
  /** `provisionerId/workerType`. */
  taskQueueId: string;
  workerGroup: string;
  workerId: string;
  /** Tasks run at once. */
  capacity: number;
  engine: 'process' | 'container';
  /** Where task directories are made (one per run). */
  workDir: string;
  /** Where named caches live, reused across tasks. */
  cacheDir: string;
  /** The longest maxRunTime a payload may ask for, in seconds. */
  maxTaskRunTime: number;
  /** `bwrap`: run process-engine tasks inside bubblewrap. */
  sandbox: 'none' | 'bwrap';
  /** How long running tasks get after SIGTERM/SIGINT before they are killed, in ms. */
  shutdownGraceMs: number;
  /** Keep task directories after the run (debugging). */
  keepTaskDirs: boolean;
  /** The Docker-compatible CLI for the container engine (detected when unset). */
  containerCli?: string;
}

/** The settings, each with its flag, environment variable(s) and kind. */
const SETTINGS = {
  rootUrl: { env: ['TASKCLUSTER_ROOT_URL', 'TASKYARD_ROOT_URL'], kind: 'url' },
  clientId: { env: ['TASKCLUSTER_CLIENT_ID'], kind: 'string' },
  accessToken: { env: ['TASKCLUSTER_ACCESS_TOKEN'], kind: 'string' },
  certificate: { env: ['TASKCLUSTER_CERTIFICATE'], kind: 'string' },
  taskQueueId: { env: ['TASKYARD_WORKER_TASK_QUEUE_ID'], kind: 'taskQueueId' },
  workerGroup: { env: ['TASKYARD_WORKER_GROUP'], kind: 'identifier' },
  workerId: { env: ['TASKYARD_WORKER_ID'], kind: 'identifier' },
  capacity: { env: ['TASKYARD_WORKER_CAPACITY'], kind: 'positive' },
  engine: { env: ['TASKYARD_WORKER_ENGINE'], kind: 'engine' },
  workDir: { env: ['TASKYARD_WORKER_WORK_DIR'], kind: 'string' },
  cacheDir: { env: ['TASKYARD_WORKER_CACHE_DIR'], kind: 'string' },
  maxTaskRunTime: { env: ['TASKYARD_WORKER_MAX_TASK_RUN_TIME'], kind: 'positive' },
  sandbox: { env: ['TASKYARD_WORKER_SANDBOX'], kind: 'sandbox' },
  shutdownGraceMs: { env: ['TASKYARD_WORKER_SHUTDOWN_GRACE_MS'], kind: 'natural' },
  keepTaskDirs: { env: ['TASKYARD_WORKER_KEEP_TASK_DIRS'], kind: 'boolean' },
  containerCli: { env: ['TASKYARD_WORKER_CONTAINER_CLI'], kind: 'string' },
} as const;
export type WorkerSettingName = keyof typeof SETTINGS;
export type WorkerFlags = Partial<Record<WorkerSettingName, string | number | boolean>> & { config?: string };

const IDENTIFIER = /^[a-zA-Z0-9-_]{1,38}$/;

function parse(name: WorkerSettingName, raw: unknown, from: string): unknown {
  const kind = SETTINGS[name].kind;
  const fail = (what: string) =>
    new ConfigError(`worker setting "${name}" (from ${from}): ${JSON.stringify(raw)} is not ${what}`);
  const text = typeof raw === 'string' ? raw.trim() : raw;
  switch (kind) {
    case 'string':
      if (typeof text !== 'string' || text === '') throw fail('a non-empty string');
      return text;
    case 'url':
      if (typeof text !== 'string' || !/^https?:\/\/[^/]/.test(text)) throw fail('an http(s) URL');
      return text.replace(/\/+$/, '');
    case 'identifier':
      if (typeof text !== 'string' || !IDENTIFIER.test(text)) throw fail('1 to 38 letters, digits, - or _');
      return text;
    case 'taskQueueId': {
      const parts = typeof text === 'string' ? text.split('/') : [];
      if (parts.length !== 2 || !parts.every((p) => IDENTIFIER.test(p)))
        throw fail('provisionerId/workerType (each 1 to 38 letters, digits, - or _)');
      return text;
    }
    case 'positive':
    case 'natural': {
      const n =
        typeof text === 'number' ? text : typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n) || n < (kind === 'positive' ? 1 : 0))
        throw fail(kind === 'positive' ? 'a whole number of at least 1' : 'a whole number');
      return n;
    }
    case 'boolean':
      if (typeof text === 'boolean') return text;
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      throw fail('true or false');
    case 'engine':
      if (text !== 'process' && text !== 'container') throw fail('"process" or "container"');
      return text;
    case 'sandbox':
      if (text === false || text === 'false') return 'none';
      if (text === true || text === 'true') return 'bwrap';
      if (text !== 'none' && text !== 'bwrap') throw fail('"none" or "bwrap"');
      return text;
  }
}

function readFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = YAML.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read worker config file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigError(`worker config file ${path} must hold a mapping of settings`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    // A nested `credentials: {clientId, accessToken, certificate}` is accepted, as in a credentials file.
    if (k === 'credentials' && v && typeof v === 'object') Object.assign(out, v);
    else out[k] = v;
  }
  for (const k of Object.keys(out)) {
    if (!(k in SETTINGS))
      throw new ConfigError(
        `worker config file ${path}: unknown setting "${k}" (known: ${Object.keys(SETTINGS).join(', ')})`,
      );
  }
  return out;
}

/**
 * Builds the worker's configuration. Flags win over the environment, which wins over the file
 * named by `flags.config` (or TASKYARD_WORKER_CONFIG). Every bad value names its setting.
 */
export function loadWorkerConfig(
  flags: WorkerFlags = {},
  env: NodeJS.ProcessEnv = process.env,
): WorkerConfig {
  const values: Record<string, unknown> = {};
  const file = flags.config ?? env.TASKYARD_WORKER_CONFIG;
  if (file) {
    for (const [k, v] of Object.entries(readFile(file))) {
      values[k] = parse(k as WorkerSettingName, v, `config file ${file}`);
    }
  }
  for (const name of Object.keys(SETTINGS) as WorkerSettingName[]) {
    for (const envName of SETTINGS[name].env) {
      const raw = env[envName];
      if (raw !== undefined && raw !== '') {
        values[name] = parse(name, raw, `environment variable ${envName}`);
        break;
      }
    }
    const flag = flags[name];
    if (flag !== undefined) values[name] = parse(name, flag, 'command line');
  }
  const required = (name: WorkerSettingName): never => {
    const envs = SETTINGS[name].env.join(' or ');
    throw new ConfigError(`worker setting "${name}" is required (flag, ${envs}, or the config file)`);
  };
  const rootUrl = (values.rootUrl as string | undefined) ?? required('rootUrl');
  const clientId = (values.clientId as string | undefined) ?? required('clientId');
  const accessToken = (values.accessToken as string | undefined) ?? required('accessToken');
  const taskQueueId = (values.taskQueueId as string | undefined) ?? required('taskQueueId');
  const workerGroup = (values.workerGroup as string | undefined) ?? required('workerGroup');
  const workerId = (values.workerId as string | undefined) ?? required('workerId');
  const engine = (values.engine as WorkerConfig['engine'] | undefined) ?? 'process';
  const sandbox = (values.sandbox as WorkerConfig['sandbox'] | undefined) ?? 'none';
  if (sandbox === 'bwrap' && engine !== 'process')
    throw new ConfigError('worker setting "sandbox": bwrap applies to the process engine only');
  const workDir = resolve((values.workDir as string | undefined) ?? './taskyard-worker/tasks');
  const cacheDir = resolve((values.cacheDir as string | undefined) ?? './taskyard-worker/caches');
  return {
    rootUrl,
    credentials: {
      clientId,
      accessToken,
      ...(values.certificate ? { certificate: values.certificate as string } : {}),
    },
    taskQueueId,
    workerGroup,
    workerId,
    capacity: (values.capacity as number | undefined) ?? Math.max(1, cpus().length),
    engine,
    workDir,
    cacheDir,
    maxTaskRunTime: (values.maxTaskRunTime as number | undefined) ?? 24 * 3600,
    sandbox,
    shutdownGraceMs: (values.shutdownGraceMs as number | undefined) ?? 30_000,
    keepTaskDirs: (values.keepTaskDirs as boolean | undefined) ?? false,
    ...(values.containerCli ? { containerCli: values.containerCli as string } : {}),
  };
}
