import { Ajv, type ErrorObject } from 'ajv';

/** Where mounted content comes from (generic-worker's content shapes). */
export type Content =
  | { taskId: string; artifact: string; sha256?: string }
  | { namespace: string; artifact: string; sha256?: string }
  | { url: string; sha256?: string }
  | { raw: string; sha256?: string }
  | { base64: string; sha256?: string };

export type ArchiveFormat = 'rar' | 'tar.bz2' | 'tar.gz' | 'tar.lz4' | 'tar.xz' | 'tar.zst' | 'zip';

export type Mount =
  | { file: string; content: Content; format?: 'bz2' | 'gz' | 'lz4' | 'xz' | 'zst' }
  | { directory: string; cacheName: string; content?: Content; format?: ArchiveFormat }
  | { directory: string; content: Content; format: ArchiveFormat };

export interface ArtifactSpec {
  type: 'file' | 'directory';
  path: string;
  name?: string;
  expires?: string;
  contentType?: string;
  optional?: boolean;
}

export interface Input {
  from: string;
  artifact: string;
  path: string;
}

/** The generic-worker payload this worker's process engine runs. */
export interface GenericPayload {
  command: string[][];
  env?: Record<string, string>;
  maxRunTime: number;
  artifacts?: ArtifactSpec[];
  mounts?: Mount[];
  onExitStatus?: { retry?: number[]; purgeCaches?: number[] };
  features?: { liveLog?: boolean; backingLog?: boolean; taskclusterProxy?: boolean };
  logs?: { live?: string; backing?: string };
  inputs?: Input[];
  supersederUrl?: string;
  osGroups?: string[];
}

/** The docker-worker payload the container engine runs. */
export interface DockerPayload {
  image: string;
  command?: string[];
  env?: Record<string, string>;
  maxRunTime: number;
  artifacts?: Record<string, { type: 'file' | 'directory'; path: string; expires?: string }>;
  cache?: Record<string, string>;
  onExitStatus?: { retry?: number[]; purgeCaches?: number[] };
  features?: { liveLog?: boolean; backingLog?: boolean; taskclusterProxy?: boolean };
  log?: string;
  inputs?: Input[];
}

const sha256 = { type: 'string', pattern: '^[a-f0-9]{64}$' };
const content = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['taskId', 'artifact'],
      properties: {
        taskId: {
          type: 'string',
          pattern: '^[A-Za-z0-9_-]{8}[Q-T][A-Za-z0-9_-][CGKOSWaeimquy26-][A-Za-z0-9_-]{10}[AQgw]$',
        },
        artifact: { type: 'string', maxLength: 1024 },
        sha256,
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['namespace', 'artifact'],
      properties: {
        namespace: { type: 'string', maxLength: 255 },
        artifact: { type: 'string', maxLength: 1024 },
        sha256,
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: { url: { type: 'string', pattern: '^https?://' }, sha256 },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['raw'],
      properties: { raw: { type: 'string', maxLength: 1048576 }, sha256 },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['base64'],
      properties: { base64: { type: 'string', maxLength: 1398102, contentEncoding: 'base64' }, sha256 },
    },
  ],
};
const archiveFormat = {
  type: 'string',
  enum: ['rar', 'tar.bz2', 'tar.gz', 'tar.lz4', 'tar.xz', 'tar.zst', 'zip'],
};
const exitStatus = {
  type: 'object',
  additionalProperties: false,
  properties: {
    retry: { type: 'array', uniqueItems: true, items: { type: 'integer', minimum: 1 } },
    purgeCaches: { type: 'array', uniqueItems: true, items: { type: 'integer', minimum: 0 } },
  },
};
const features = {
  type: 'object',
  additionalProperties: false,
  properties: {
    liveLog: { type: 'boolean' },
    backingLog: { type: 'boolean' },
    taskclusterProxy: { type: 'boolean' },
  },
};
const env = { type: 'object', additionalProperties: { type: 'string' } };
const inputs = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['from', 'artifact', 'path'],
    properties: {
      from: { type: 'string', minLength: 1 },
      artifact: { type: 'string', minLength: 1, maxLength: 1024 },
      path: { type: 'string', minLength: 1 },
    },
  },
};

export const genericPayloadSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['command', 'maxRunTime'],
  properties: {
    command: {
      type: 'array',
      minItems: 1,
      items: { type: 'array', minItems: 1, items: { type: 'string' } },
    },
    env,
    maxRunTime: { type: 'integer', minimum: 1 },
    artifacts: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'path'],
        properties: {
          type: { type: 'string', enum: ['file', 'directory'] },
          path: { type: 'string', minLength: 1 },
          name: { type: 'string', minLength: 1, maxLength: 1024 },
          expires: { type: 'string', format: 'date-time' },
          contentType: { type: 'string', minLength: 1 },
          contentEncoding: { type: 'string', enum: ['identity', 'gzip'] },
          optional: { type: 'boolean' },
        },
      },
    },
    mounts: {
      type: 'array',
      items: {
        oneOf: [
          {
            type: 'object',
            additionalProperties: false,
            required: ['file', 'content'],
            properties: {
              file: { type: 'string', minLength: 1 },
              content,
              format: { type: 'string', enum: ['bz2', 'gz', 'lz4', 'xz', 'zst'] },
            },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['directory', 'cacheName'],
            properties: {
              directory: { type: 'string', minLength: 1 },
              cacheName: { type: 'string', pattern: '^(?!\\.{1,2}$)[a-zA-Z0-9._-]{1,100}$' },
              content,
              format: archiveFormat,
            },
            dependencies: { content: ['format'], format: ['content'] },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['directory', 'content', 'format'],
            properties: { directory: { type: 'string', minLength: 1 }, content, format: archiveFormat },
          },
        ],
      },
    },
    onExitStatus: exitStatus,
    features,
    logs: {
      type: 'object',
      additionalProperties: false,
      properties: { live: { type: 'string', minLength: 1 }, backing: { type: 'string', minLength: 1 } },
    },
    inputs,
    supersederUrl: { type: 'string' },
    osGroups: { type: 'array', maxItems: 0 },
  },
};

export const dockerPayloadSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['image', 'maxRunTime'],
  properties: {
    image: { type: 'string', minLength: 1 },
    command: { type: 'array', items: { type: 'string' } },
    env,
    maxRunTime: { type: 'integer', minimum: 1 },
    artifacts: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'path'],
        properties: {
          type: { type: 'string', enum: ['file', 'directory'] },
          path: { type: 'string', pattern: '^/' },
          expires: { type: 'string', format: 'date-time' },
        },
      },
    },
    cache: {
      type: 'object',
      propertyNames: { pattern: '^(?!\\.{1,2}$)[a-zA-Z0-9._-]{1,100}$' },
      additionalProperties: { type: 'string', pattern: '^/' },
    },
    onExitStatus: exitStatus,
    features,
    log: { type: 'string' },
    inputs,
  },
};

const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d\d-\d\dT/.test(s));
const validateGeneric = ajv.compile<GenericPayload>(genericPayloadSchema);
const validateDocker = ajv.compile<DockerPayload>(dockerPayloadSchema);

function describe(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? [])
    .filter((e) => e.keyword !== 'oneOf' || (errors ?? []).length === 1)
    .map((e) => {
      const where = `payload${e.instancePath.replace(/\//g, '.')}`;
      const extra =
        e.keyword === 'additionalProperties'
          ? `: ${(e.params as { additionalProperty: string }).additionalProperty}`
          : e.keyword === 'enum'
            ? `: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`
            : '';
      return `${where} ${e.message}${extra}`;
    });
}

export type Validated<T> = { ok: true; payload: T } | { ok: false; errors: string[] };

export function validateGenericPayload(payload: unknown): Validated<GenericPayload> {
  if (validateGeneric(payload)) return { ok: true, payload };
  return { ok: false, errors: describe(validateGeneric.errors) };
}

export function validateDockerPayload(payload: unknown): Validated<DockerPayload> {
  if (validateDocker(payload)) return { ok: true, payload };
  return { ok: false, errors: describe(validateDocker.errors) };
}
