import type { ArtifactSpec, DockerPayload, GenericPayload, Input, Mount } from './payload.ts';

/** What either payload shape asks for, in one form the task runner follows. */
export interface Plan {
  commands: string[][];
  env: Record<string, string>;
  maxRunTime: number;
  /** Generic: paths relative to the task directory. Container: absolute paths in the container. */
  artifacts: Array<ArtifactSpec & { name: string }>;
  mounts: Array<Exclude<Mount, { cacheName: string }>>;
  /** Named caches and where they appear (task-relative, or absolute in the container). */
  caches: Array<{ name: string; path: string }>;
  inputs: Input[];
  retryExitCodes: number[];
  purgeCacheExitCodes: number[];
  liveLog: boolean;
  backingLog: boolean;
  liveLogName: string;
  backingLogName: string;
  /** Run a taskcluster proxy for the task (TASKCLUSTER_PROXY_URL). */
  taskclusterProxy: boolean;
  /** The scope a cache needs: `<prefix><cacheName>`. */
  cacheScopePrefix: string;
  image?: string;
}

export function planGeneric(p: GenericPayload): Plan {
  return {
    commands: p.command,
    env: p.env ?? {},
    maxRunTime: p.maxRunTime,
    artifacts: (p.artifacts ?? []).map((a) => ({ ...a, name: a.name ?? a.path.replace(/\\/g, '/') })),
    mounts: (p.mounts ?? []).filter((m): m is Exclude<Mount, { cacheName: string }> => !('cacheName' in m)),
    caches: (p.mounts ?? []).flatMap((m) =>
      'cacheName' in m ? [{ name: m.cacheName, path: m.directory }] : [],
    ),
    inputs: p.inputs ?? [],
    retryExitCodes: p.onExitStatus?.retry ?? [],
    purgeCacheExitCodes: p.onExitStatus?.purgeCaches ?? [],
    liveLog: p.features?.liveLog ?? true,
    backingLog: p.features?.backingLog ?? true,
    liveLogName: p.logs?.live ?? 'public/logs/live.log',
    backingLogName: p.logs?.backing ?? 'public/logs/live_backing.log',
    taskclusterProxy: p.features?.taskclusterProxy ?? false,
    cacheScopePrefix: 'generic-worker:cache:',
  };
}

export function planDocker(p: DockerPayload): Plan {
  return {
    // An empty argv means: the image's own command.
    commands: [p.command ?? []],
    env: p.env ?? {},
    maxRunTime: p.maxRunTime,
    artifacts: Object.entries(p.artifacts ?? {}).map(([name, a]) => ({ ...a, name })),
    mounts: [],
    caches: Object.entries(p.cache ?? {}).map(([name, path]) => ({ name, path })),
    inputs: p.inputs ?? [],
    retryExitCodes: p.onExitStatus?.retry ?? [],
    purgeCacheExitCodes: p.onExitStatus?.purgeCaches ?? [],
    liveLog: p.features?.liveLog ?? true,
    backingLog: p.features?.backingLog ?? true,
    liveLogName: 'public/logs/live.log',
    backingLogName: p.log ?? 'public/logs/live_backing.log',
    taskclusterProxy: p.features?.taskclusterProxy ?? false,
    cacheScopePrefix: 'docker-worker:cache:',
    image: p.image,
  };
}

/** Mounts whose content must be fetched, with the cache mounts' preload content. */
export function cacheMountsOf(p: GenericPayload): Array<Extract<Mount, { cacheName: string }>> {
  return (p.mounts ?? []).filter((m): m is Extract<Mount, { cacheName: string }> => 'cacheName' in m);
}
