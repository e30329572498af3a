import { Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import { decodeContinuation, encodeContinuation, pageSize } from '../../platform/api/pagination.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import type { Database } from '../../platform/db/index.ts';
import { ApiError } from '../../platform/errors.ts';
import * as db from './db.ts';
import type { SecretsKeyring } from './keyring.ts';

/**
 * Secret names: printable ASCII (what a scope can hold, so `secrets:get:<name>` can name it),
 * `/` included. Upstream takes any string; a name outside this set could only be granted by a
 * wildcard scope.
 */
export const MAX_NAME_LENGTH = 1024;
export const secretNamePattern = new RegExp(`^[\\x20-\\x7e/]{1,${MAX_NAME_LENGTH}}$`);

const DateTime = Type.String({ format: 'date-time' });

/** Upstream's `secret.json`: the request of `set` and the answer of `get`. */
export const SecretSchema = Type.Object(
  {
    secret: Type.Object({}, { description: 'The secret value: any JSON object.' }),
    expires: { ...DateTime, description: 'When the secret stops being readable.' },
  },
  { $id: 'secret', title: 'Secret', additionalProperties: false },
);

export const SecretListSchema = Type.Object(
  {
    secrets: Type.Array(Type.String(), { uniqueItems: true, description: 'Secret names' }),
    continuationToken: Type.Optional(
      Type.String({ description: 'Pass as `continuationToken` to get the next page; absent on the last.' }),
    ),
  },
  { $id: 'secret-list', title: 'Secrets List', additionalProperties: false },
);

/** What an error answer to `set` echoes of its body: never the value (upstream's `(OMITTED)`). */
export function cleanSetPayload(body: unknown): unknown {
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return '(OMITTED)';
  return Object.fromEntries(
    Object.entries(body).map(([k, v]) => [
      k,
      k === 'expires' && typeof v === 'string' && v.length <= 64 ? v : '(OMITTED)',
    ]),
  );
}

export interface SecretsContext {
  database: Database;
  keyring: SecretsKeyring;
  logger: Logger;
  now: () => Date;
}

const notFound = () => new ApiError('ResourceNotFound', 'Secret not found');

export function secretEndpoints(sc: SecretsContext): EndpointDeclaration[] {
  const params = { name: secretNamePattern };

  /** The value of a row; one sealed with secretsKeyOld is resealed with secretsKey on the way. */
  async function openRow(row: db.SecretRow): Promise<unknown> {
    const value = sc.keyring.open(row.name, row);
    if (row.keyId !== sc.keyring.currentKeyId) {
      try {
        await db.resealSecret(sc.database, row.name, row, sc.keyring.seal(row.name, value));
      } catch (err) {
        sc.logger.warn({ err, secret: row.name }, 'could not re-encrypt a secret with secretsKey');
      }
    }
    return value;
  }

  return [
    endpoint({
      name: 'set',
      method: 'put',
      route: '/secret/<name>',
      params,
      scopes: 'secrets:set:<name>',
      input: SecretSchema,
      title: 'Set Secret',
      description:
        'Sets the secret of this name (any JSON object) and when it expires, creating it or replacing ' +
        'its value and expiry. The value is stored encrypted, and error answers never repeat it.',
      stability: 'stable',
      category: 'Secrets Service',
      cleanPayload: cleanSetPayload,
      handler: async ({ params, body, clientId }) => {
        const { name } = params;
        const created = await db.upsertSecret(
          sc.database,
          name,
          sc.keyring.seal(name, body.secret),
          new Date(body.expires),
        );
        sc.logger.info({ secret: name, clientId, action: created ? 'created' : 'updated' }, 'secret set');
        return {};
      },
    }),
    endpoint({
      name: 'remove',
      method: 'delete',
      route: '/secret/<name>',
      params,
      scopes: 'secrets:set:<name>',
      title: 'Delete Secret',
      description: 'Deletes the secret of this name. It succeeds whether or not the secret exists.',
      stability: 'stable',
      category: 'Secrets Service',
      handler: async ({ params, clientId }) => {
        if (await db.deleteSecret(sc.database, params.name)) {
          sc.logger.info({ secret: params.name, clientId, action: 'deleted' }, 'secret deleted');
        }
        return {};
      },
    }),
    endpoint({
      name: 'get',
      method: 'get',
      route: '/secret/<name>',
      params,
      scopes: 'secrets:get:<name>',
      output: SecretSchema,
      title: 'Read Secret',
      description:
        'The secret of this name and when it expires. A missing or expired secret is a 404; without ' +
        'the scope the answer is 403 whether or not the secret exists.',
      stability: 'stable',
      category: 'Secrets Service',
      handler: async ({ params }) => {
        const row = await db.getSecret(sc.database, params.name, sc.now());
        if (!row) throw notFound();
        return { secret: (await openRow(row)) as Record<string, unknown>, expires: row.expires.toJSON() };
      },
    }),
    endpoint({
      name: 'list',
      method: 'get',
      route: '/secrets',
      query: Type.Object({
        continuationToken: Type.Optional(Type.String()),
        limit: Type.Optional(Type.Integer({ minimum: 0 })),
      }),
      scopes: 'secrets:list-secrets',
      output: SecretListSchema,
      title: 'List Secrets',
      description:
        'The names of the secrets that have not expired (never their values), in byte order, up to ' +
        '`limit` (at most 1000) at a time. Call again with the `continuationToken` of each answer ' +
        'until an answer has none.',
      stability: 'stable',
      category: 'Secrets Service',
      handler: async ({ query }) => {
        const after = decodeContinuation(
          query.continuationToken,
          (v): v is { after: string } => typeof v.after === 'string',
        );
        const limit = pageSize(query.limit);
        const names = await db.listSecretNames(sc.database, {
          now: sc.now(),
          after: after?.after,
          limit: limit + 1,
        });
        const page = names.slice(0, limit);
        return {
          secrets: page,
          ...(names.length > limit
            ? { continuationToken: encodeContinuation({ after: page[page.length - 1] }) }
            : {}),
        };
      },
    }),
  ];
}
