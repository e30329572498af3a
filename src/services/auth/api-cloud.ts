// biome-ignore-all lint/suspicious/noThenProperty: `then` is a branch of an {if, then, else} scope template
import { Type } from '@sinclair/typebox';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { ApiError } from '../../platform/errors.ts';

/**
 * Credentials for third-party backends. Taskyard deployments configure none of them yet, so each
 * answers 404 saying so (after its scope check, as a configured one would do).
 */
const backends: Array<{
  name: string;
  route: string;
  scopes: EndpointDeclaration['scopes'];
  backend: string;
  method?: 'get' | 'post';
  query?: string[];
  stability?: 'stable' | 'deprecated' | 'experimental';
}> = [
  {
    name: 'awsS3Credentials',
    route: '/aws/s3/<level>/<bucket>/<prefix>',
    scopes: {
      if: 'levelIsReadOnly',
      then: {
        AnyOf: ['auth:aws-s3:read-only:<bucket>/<prefix>', 'auth:aws-s3:read-write:<bucket>/<prefix>'],
      },
      else: 'auth:aws-s3:read-write:<bucket>/<prefix>',
    } as never,
    backend: 'AWS',
    query: ['format'],
  },
  {
    name: 'azureAccounts',
    route: '/azure/accounts',
    scopes: 'auth:azure-table:list-accounts',
    backend: 'Azure',
    stability: 'deprecated',
  },
  {
    name: 'azureTables',
    route: '/azure/<account>/tables',
    scopes: 'auth:azure-table:list-tables:<account>',
    backend: 'Azure',
    stability: 'deprecated',
    query: ['continuationToken'],
  },
  {
    name: 'azureTableSAS',
    route: '/azure/<account>/table/<table>/<level>',
    scopes: {
      if: 'levelIsReadOnly',
      then: {
        AnyOf: [
          'auth:azure-table:read-only:<account>/<table>',
          'auth:azure-table:read-write:<account>/<table>',
        ],
      },
      else: 'auth:azure-table:read-write:<account>/<table>',
    } as never,
    backend: 'Azure',
    stability: 'deprecated',
  },
  {
    name: 'azureContainers',
    route: '/azure/<account>/containers',
    scopes: 'auth:azure-container:list-containers:<account>',
    backend: 'Azure',
    stability: 'deprecated',
    query: ['continuationToken'],
  },
  {
    name: 'azureContainerSAS',
    route: '/azure/<account>/containers/<container>/<level>',
    scopes: {
      if: 'levelIsReadOnly',
      then: {
        AnyOf: [
          'auth:azure-container:read-only:<account>/<container>',
          'auth:azure-container:read-write:<account>/<container>',
        ],
      },
      else: 'auth:azure-container:read-write:<account>/<container>',
    } as never,
    backend: 'Azure',
    stability: 'deprecated',
  },
  { name: 'sentryDSN', route: '/sentry/<project>/dsn', scopes: 'auth:sentry:<project>', backend: 'Sentry' },
  {
    name: 'websocktunnelToken',
    route: '/websocktunnel/<wstAudience>/<wstClient>',
    scopes: 'auth:websocktunnel-token:<wstAudience>/<wstClient>',
    backend: 'websocktunnel',
  },
  {
    name: 'gcpCredentials',
    route: '/gcp/credentials/<projectId>/<serviceAccount>',
    scopes: 'auth:gcp:access-token:<projectId>/<serviceAccount>',
    backend: 'Google Cloud',
  },
  {
    name: 'githubRepoToken',
    route: '/github/<appName>/<owner>/repo-token',
    method: 'post',
    scopes: {
      AllOf: [
        { each: 'auth:github-repo-token:<appName>/<owner>/<repoPerm>', for: 'repoPerm', in: 'repoPerms' },
      ],
    },
    backend: 'GitHub App',
    stability: 'experimental',
  },
];

export function cloudEndpoints(): EndpointDeclaration[] {
  return backends.map((b) =>
    endpoint({
      name: b.name,
      method: b.method ?? 'get',
      route: b.route,
      scopes: b.scopes,
      ...(b.query
        ? { query: Type.Object(Object.fromEntries(b.query.map((q) => [q, Type.Optional(Type.String())]))) }
        : {}),
      ...(b.method === 'post' ? { input: Type.Unknown({ $id: `${b.name}-request` }) } : {}),
      title: `${b.name} (no ${b.backend} backend)`,
      description: `Credentials from ${b.backend}. This deployment has no ${b.backend} backend configured, so it answers 404.`,
      stability: b.stability ?? 'stable',
      category: 'Third-Party Credentials',
      handler: async (ctx) => {
        // Accept any body a client sends here: there is nothing to validate it against.
        void ctx;
        throw new ApiError(
          'ResourceNotFound',
          `This deployment has no ${b.backend} backend configured; ${b.name} is not available`,
        );
      },
    }),
  );
}
