import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import YAML from 'yaml';

/**
 * Taskyard's settings. Each comes from (highest first) the environment, the config file named by
 * TASKYARD_CONFIG (YAML or JSON, camelCase keys as below), then the default. Secrets (access
 * tokens, the token encryption key) come only from the environment or that file.
 */
export const StaticClient = Type.Object(
  {
    clientId: Type.String({ minLength: 1 }),
    accessToken: Type.String({ minLength: 22 }),
    description: Type.Optional(Type.String()),
    scopes: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);
export type StaticClient = Static<typeof StaticClient>;

const ConfigSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    host: Type.String(),
    rootUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
    databasePoolSize: Type.Integer({ minimum: 1, maximum: 1000 }),
    amqpUrl: Type.Optional(Type.String({ pattern: '^amqps?://' })),
    trustProxy: Type.Boolean(),
    staticClients: Type.Array(StaticClient),
    accessTokenKey: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' })),
    /** base64 of 32 bytes: encrypts the secrets service's values at rest (required to run it). */
    secretsKey: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' })),
    /** The previous secretsKey during a rotation: still decrypts, never encrypts. */
    secretsKeyOld: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' })),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    ),
    maxRequestBytes: Type.Integer({ minimum: 1024 }),
    authUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    // Where artifact bytes live: `filesystem` (served by Taskyard under /blobs) or `s3`. Unset:
    // filesystem when blobRoot is given, s3 when s3Bucket is, else none (s3 artifacts answer 501).
    blobStore: Type.Optional(Type.Union([Type.Literal('filesystem'), Type.Literal('s3')])),
    blobRoot: Type.Optional(Type.String({ minLength: 1 })),
    /** base64 of at least 16 random bytes: signs the filesystem store's URLs (same in every process). */
    blobSecret: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{22,}={0,2}$' })),
    s3Bucket: Type.Optional(Type.String({ minLength: 1 })),
    s3Prefix: Type.Optional(Type.String()),
    s3Region: Type.Optional(Type.String({ minLength: 1 })),
    s3Endpoint: Type.Optional(Type.String({ pattern: '^https?://' })),
    s3ForcePathStyle: Type.Optional(Type.Boolean()),
    s3AccessKeyId: Type.Optional(Type.String({ minLength: 1 })),
    s3SecretAccessKey: Type.Optional(Type.String({ minLength: 1 })),
    /** How long a claim lasts before the worker must reclaim it (seconds); upstream: 20 minutes. */
    queueClaimTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 24 * 60 * 60 }),
    /** The most bytes one run's live log may hold. */
    liveLogMaxBytes: Type.Integer({ minimum: 1024 }),
    // Notify: each channel is configured when its settings are given (see docs/notify.md).
    smtpUrl: Type.Optional(Type.String({ pattern: '^smtps?://' })),
    smtpHost: Type.Optional(Type.String({ minLength: 1 })),
    smtpPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    smtpSecure: Type.Optional(Type.Boolean()),
    smtpUser: Type.Optional(Type.String({ minLength: 1 })),
    smtpPassword: Type.Optional(Type.String()),
    emailSourceAddress: Type.Optional(Type.String({ minLength: 3 })),
    slackAccessToken: Type.Optional(Type.String({ minLength: 1 })),
    slackApiUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    matrixBaseUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    matrixAccessToken: Type.Optional(Type.String({ minLength: 1 })),
    matrixUserId: Type.Optional(Type.String({ minLength: 1 })),
    ircServer: Type.Optional(Type.String({ minLength: 1 })),
    ircPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    ircNick: Type.Optional(Type.String({ minLength: 1 })),
    ircTls: Type.Optional(Type.Boolean()),
    ircPassword: Type.Optional(Type.String()),
    /** Emails to one address per window (shared by every process); more are dropped. */
    notifyEmailRateLimit: Type.Integer({ minimum: 1 }),
    notifyEmailRateWindowSeconds: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);
export type Config = Static<typeof ConfigSchema>;

export const configDefaults: Config = {
  port: 8080,
  host: '127.0.0.1',
  databasePoolSize: 20,
  queueClaimTimeoutSeconds: 20 * 60,
  liveLogMaxBytes: 100 * 1024 * 1024,
  trustProxy: false,
  staticClients: [],
  logLevel: 'info',
  maxRequestBytes: 10 * 1024 * 1024,
  // Taskcluster's figures: an exploding task graph sends 50 mails, then 50 more 10 minutes later.
  notifyEmailRateLimit: 50,
  notifyEmailRateWindowSeconds: 600,
};

/** Environment variable for each setting; the value is parsed by the setting's type. */
const envNames: Record<keyof Config, string[]> = {
  port: ['TASKYARD_PORT', 'PORT'],
  host: ['TASKYARD_HOST'],
  rootUrl: ['TASKYARD_ROOT_URL'],
  databaseUrl: ['DATABASE_URL'],
  databasePoolSize: ['TASKYARD_DATABASE_POOL_SIZE'],
  queueClaimTimeoutSeconds: ['TASKYARD_QUEUE_CLAIM_TIMEOUT_SECONDS'],
  liveLogMaxBytes: ['TASKYARD_LIVE_LOG_MAX_BYTES'],
  amqpUrl: ['AMQP_URL'],
  trustProxy: ['TASKYARD_TRUST_PROXY'],
  staticClients: ['TASKYARD_STATIC_CLIENTS'],
  accessTokenKey: ['TASKYARD_ACCESS_TOKEN_KEY'],
  secretsKey: ['TASKYARD_SECRETS_KEY'],
  secretsKeyOld: ['TASKYARD_SECRETS_KEY_OLD'],
  logLevel: ['LOG_LEVEL', 'TASKYARD_LOG_LEVEL'],
  maxRequestBytes: ['TASKYARD_MAX_REQUEST_BYTES'],
  authUrl: ['TASKYARD_AUTH_URL'],
  blobStore: ['TASKYARD_BLOB_STORE'],
  blobRoot: ['TASKYARD_BLOB_ROOT'],
  blobSecret: ['TASKYARD_BLOB_SECRET'],
  s3Bucket: ['TASKYARD_S3_BUCKET'],
  s3Prefix: ['TASKYARD_S3_PREFIX'],
  s3Region: ['TASKYARD_S3_REGION', 'AWS_REGION'],
  s3Endpoint: ['TASKYARD_S3_ENDPOINT'],
  s3ForcePathStyle: ['TASKYARD_S3_FORCE_PATH_STYLE'],
  // Unset, the AWS SDK's default chain applies (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY with
  // AWS_SESSION_TOKEN, shared config, instance roles).
  s3AccessKeyId: ['TASKYARD_S3_ACCESS_KEY_ID'],
  s3SecretAccessKey: ['TASKYARD_S3_SECRET_ACCESS_KEY'],
  smtpUrl: ['TASKYARD_SMTP_URL'],
  smtpHost: ['TASKYARD_SMTP_HOST'],
  smtpPort: ['TASKYARD_SMTP_PORT'],
  smtpSecure: ['TASKYARD_SMTP_SECURE'],
  smtpUser: ['TASKYARD_SMTP_USER'],
  smtpPassword: ['TASKYARD_SMTP_PASSWORD'],
  emailSourceAddress: ['TASKYARD_EMAIL_SOURCE_ADDRESS'],
  slackAccessToken: ['TASKYARD_SLACK_ACCESS_TOKEN'],
  slackApiUrl: ['TASKYARD_SLACK_API_URL'],
  matrixBaseUrl: ['TASKYARD_MATRIX_BASE_URL'],
  matrixAccessToken: ['TASKYARD_MATRIX_ACCESS_TOKEN'],
  matrixUserId: ['TASKYARD_MATRIX_USER_ID'],
  ircServer: ['TASKYARD_IRC_SERVER'],
  ircPort: ['TASKYARD_IRC_PORT'],
  ircNick: ['TASKYARD_IRC_NICK'],
  ircTls: ['TASKYARD_IRC_TLS'],
  ircPassword: ['TASKYARD_IRC_PASSWORD'],
  notifyEmailRateLimit: ['TASKYARD_NOTIFY_EMAIL_RATE_LIMIT'],
  notifyEmailRateWindowSeconds: ['TASKYARD_NOTIFY_EMAIL_RATE_WINDOW_SECONDS'],
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseEnvValue(key: keyof Config, envName: string, raw: string): unknown {
  const fail = (what: string) => new ConfigError(`${envName}=${JSON.stringify(raw)} is not ${what}`);
  switch (key) {
    case 'port':
    case 'databasePoolSize':
    case 'queueClaimTimeoutSeconds':
    case 'liveLogMaxBytes':
    case 'maxRequestBytes':
    case 'smtpPort':
    case 'ircPort':
    case 'notifyEmailRateLimit':
    case 'notifyEmailRateWindowSeconds': {
      if (!/^\d+$/.test(raw)) throw fail('a whole number');
      return Number(raw);
    }
    case 'trustProxy':
    case 's3ForcePathStyle':
    case 'smtpSecure':
    case 'ircTls':
      if (!['true', 'false', '1', '0'].includes(raw)) throw fail('true or false');
      return raw === 'true' || raw === '1';
    case 'staticClients':
      try {
        return JSON.parse(raw);
      } catch {
        throw fail('a JSON array of {clientId, accessToken, scopes}');
      }
    default:
      return raw;
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML or JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a mapping of settings`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Builds the configuration; `overrides` (from command-line flags) win over everything. Any bad
 * value throws a ConfigError that names the setting and where it came from.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const merged: Record<string, unknown> = { ...configDefaults };
  const source: Record<string, string> = {};
  if (env.TASKYARD_CONFIG) {
    for (const [k, v] of Object.entries(readConfigFile(env.TASKYARD_CONFIG))) {
      merged[k] = v;
      source[k] = `config file ${env.TASKYARD_CONFIG}`;
    }
  }
  for (const key of Object.keys(envNames) as Array<keyof Config>) {
    for (const name of envNames[key]) {
      const raw = env[name];
      if (raw !== undefined && raw !== '') {
        merged[key] = parseEnvValue(key, name, raw);
        source[key] = `environment variable ${name}`;
        break;
      }
    }
  }
  for (const [k, v] of Object.entries(overrides)) {
    if (v !== undefined) {
      merged[k] = v;
      source[k] = 'command line';
    }
  }
  const first = Value.Errors(ConfigSchema, merged).First();
  if (first) {
    const key = first.path.split('/')[1] ?? '';
    const from = source[key] ? ` (from ${source[key]})` : '';
    if (key && !(key in envNames)) throw new ConfigError(`unknown setting "${key}"${from}`);
    const message = first.message.startsWith('Expected required property') ? 'is required' : first.message;
    throw new ConfigError(`setting "${first.path.slice(1).replace(/\//g, '.')}"${from}: ${message}`);
  }
  return merged as Config;
}

/** The public root URL: configured, or derived from where this process listens. */
export function rootUrlOf(config: Config, listeningPort: number): string {
  if (config.rootUrl) return config.rootUrl.replace(/\/+$/, '');
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return `http://${host}:${listeningPort}`;
}
