/**
 * Artifact endpoints. A worker creates an artifact for the run it holds: `s3` (bytes uploaded to
 * the blob store through a signed URL, whichever backend the deployment uses), `reference` (a
 * URL), `link` (another artifact of the same run) or `error` (why the artifact is missing).
 * Readers get a 303 to the bytes (or the reference), follow links, and need
 * `queue:get-artifact:<name>` for every name along the way.
 */
import { Type } from '@sinclair/typebox';
import { decodeContinuation, encodeContinuation, pageSize } from '../../platform/api/pagination.ts';
import { type EndpointContext, type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { ApiError } from '../../platform/errors.ts';
import { artifactCreator, MAX_LINK_HOPS, parseRunId } from './artifact-create.ts';
import {
  ArtifactContentResponse,
  ArtifactResponse,
  artifactJson,
  FinishArtifactRequest,
  GetArtifactResponse,
  ListArtifactsResponse,
  PostArtifactRequest,
  PostArtifactResponse,
} from './artifact-json.ts';
import type { ArtifactRow } from './artifacts-db.ts';
import * as adb from './artifacts-db.ts';
import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { slugidPattern } from './schemas.ts';

/**
 * Printable ASCII. The `/` is redundant in the class but makes the mount serve the name as a
 * wildcard, so names holding a raw `/` reach us as well as URL-encoded ones.
 */
const namePattern = /^[\x20-\x7e/]+$/;
const runIdPattern = /^[1-9]*[0-9]+$/;
const taskParams = { taskId: slugidPattern };
const runParams = { taskId: slugidPattern, runId: runIdPattern };
const taskNameParams = { taskId: slugidPattern, name: namePattern };
const runNameParams = { taskId: slugidPattern, runId: runIdPattern, name: namePattern };

const PageQuery = Type.Object({
  continuationToken: Type.Optional(Type.String({ minLength: 1 })),
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
});

const getArtifactScopes = {
  AllOf: [{ each: 'queue:get-artifact:<name>', for: 'name', in: 'names' }],
};

/** How long the download URL a reader is redirected to works. */
const GET_URL_MS = 30 * 60 * 1000;

const STORAGE_TYPE_HEADER = 'x-taskcluster-artifact-storage-type';

type Ctx = EndpointContext<Record<string, string>, Record<string, unknown>, unknown>;

export function artifactEndpoints(ctx: QueueContext): EndpointDeclaration[] {
  const blobStore = () => {
    if (!ctx.blobStore) {
      throw new ApiError(
        'NotImplemented',
        'this deployment has no blob store configured (blobStore / TASKYARD_BLOB_STORE), so s3 artifacts are not available',
      );
    }
    return ctx.blobStore;
  };
  const { createArtifact } = artifactCreator(ctx, blobStore);

  /** The latest run of a task: 404 when there is no task or no run. */
  async function latestRunId(taskId: string): Promise<number> {
    const task = await db.getTask(ctx.database, taskId);
    if (!task) throw new ApiError('ResourceNotFound', `Task ${taskId} not found`);
    if (task.runs.length === 0)
      throw new ApiError('ResourceNotFound', `Task ${taskId} doesn't have any runs`);
    return task.runs.length - 1;
  }

  async function findArtifact(taskId: string, runId: number, name: string): Promise<ArtifactRow> {
    const row = await adb.getArtifact(ctx.database, taskId, runId, name);
    if (!row?.present) {
      throw new ApiError(
        'ResourceNotFound',
        `Artifact ${JSON.stringify(name)} not found on run ${runId} of task ${taskId}`,
      );
    }
    return row;
  }

  /**
   * The artifact a read of `name` serves: links followed, every name on the way authorized
   * (the requested one before anything is looked up, so 403 comes before 404).
   */
  async function resolveForRead(c: Ctx, runId: number | 'latest'): Promise<ArtifactRow> {
    const { taskId, name } = c.params;
    c.authorize({ names: [name] });
    const run = runId === 'latest' ? await latestRunId(taskId) : runId;
    const names = [name];
    let row = await findArtifact(taskId, run, name);
    const now = ctx.now().getTime();
    for (;;) {
      if (row.expires.getTime() < now) {
        throw new ApiError('ResourceExpired', `Artifact ${JSON.stringify(row.name)} expired`);
      }
      if (row.storageType !== 'link') break;
      const target = String(row.details.artifact);
      if (names.includes(target)) {
        throw new ApiError(
          'InputError',
          `Artifact leads to a link cycle: ${[...names, target].join(' -> ')}`,
        );
      }
      if (names.length > MAX_LINK_HOPS) {
        throw new ApiError('InputError', `Artifact leads to more than ${MAX_LINK_HOPS} links`);
      }
      names.push(target);
      c.authorize({ names });
      row = await findArtifact(taskId, run, target);
    }
    c.authorize({ names });
    return row;
  }

  /** The 303 of getArtifact/getLatestArtifact, or the 424 of an error artifact. */
  async function redirect(c: Ctx, row: ArtifactRow) {
    c.reply.header(STORAGE_TYPE_HEADER, row.storageType);
    if (row.storageType === 'error') {
      c.reply
        .status(424)
        .header('content-type', 'application/json; charset=utf-8')
        .header('cache-control', 'no-store')
        .send({ reason: row.details.reason, message: row.details.message });
      return undefined;
    }
    const url = await contentUrl(row);
    c.reply.status(303).header('location', url);
    return { storageType: row.storageType as 's3' | 'reference', url };
  }

  async function contentUrl(row: ArtifactRow): Promise<string> {
    if (row.storageType === 'reference') return String(row.details.url);
    if (row.storageType === 's3') {
      return blobStore().downloadUrl(adb.artifactBlobKey(row), {
        expires: new Date(ctx.now().getTime() + GET_URL_MS),
      });
    }
    throw new ApiError('NotImplemented', `artifacts of storage type ${row.storageType} cannot be read here`);
  }

  async function content(row: ArtifactRow) {
    if (row.storageType === 'error') {
      return {
        storageType: 'error' as const,
        reason: row.details.reason as 'file-missing-on-worker',
        message: String(row.details.message),
      };
    }
    return { storageType: row.storageType as 's3' | 'reference', url: await contentUrl(row) };
  }

  async function listPage(
    taskId: string,
    runId: number,
    query: { continuationToken?: string; limit?: number },
  ) {
    const after = decodeContinuation(
      query.continuationToken,
      (v): v is { after: string } => typeof v.after === 'string',
    );
    const limit = pageSize(query.limit);
    const rows = await adb.listArtifacts(ctx.database, taskId, runId, after?.after, limit + 1);
    const page = rows.slice(0, limit);
    return {
      artifacts: page.map(artifactJson),
      ...(rows.length > limit
        ? { continuationToken: encodeContinuation({ after: page[page.length - 1].name }) }
        : {}),
    };
  }

  return [
    endpoint({
      name: 'createArtifact',
      method: 'post',
      route: '/task/<taskId>/runs/<runId>/artifacts/<name>',
      params: runNameParams,
      scopes: 'queue:create-artifact:<taskId>/<runId>',
      input: PostArtifactRequest,
      output: PostArtifactResponse,
      title: 'Create Artifact',
      description:
        'Creates an artifact for a run that is running (or was resolved as exception in the last 25 minutes). ' +
        '`s3`: the response has a `putUrl` to PUT the bytes to, with the same `content-type`, valid 45 minutes ' +
        '(the bytes go to the blob store of the deployment, S3 or the local filesystem). `reference`: readers ' +
        'are redirected to `url`. `link`: readers get another artifact of the same run, which must exist. ' +
        '`error`: readers get 424 with the reason and message. `object` artifacts are not supported (400). ' +
        'Names are printable ASCII paths such as `public/logs/live.log` (no leading `/`, no empty, `.` or `..` ' +
        'segments). Creating an artifact again with the same definition is allowed (a later `expires` ' +
        'extends it; a `reference` may be replaced by another `reference` or a `link`); otherwise 409.',
      stability: 'stable',
      category: 'Artifacts',
      handler: async ({ params, body }) => createArtifact(params, body),
    }),
    endpoint({
      name: 'finishArtifact',
      method: 'put',
      route: '/task/<taskId>/runs/<runId>/artifacts/<name>',
      params: runNameParams,
      scopes: 'queue:create-artifact:<taskId>/<runId>',
      input: FinishArtifactRequest,
      title: 'Finish Artifact',
      description:
        'Marks an object artifact as uploaded. This deployment has no object artifacts, so this answers 404 ' +
        'for a missing artifact and 400 for any other.',
      stability: 'stable',
      category: 'Artifacts',
      handler: async ({ params }) => {
        const runId = parseRunId(params.runId);
        const row = await adb.getArtifact(ctx.database, params.taskId, runId, params.name);
        if (!row) {
          throw new ApiError(
            'ResourceNotFound',
            `Artifact ${JSON.stringify(params.name)} not found on run ${runId} of task ${params.taskId}`,
          );
        }
        if (row.storageType !== 'object')
          throw new ApiError('InputError', 'Only object artifacts can be finished');
        throw new ApiError('NotImplemented', 'object artifacts are not supported by this deployment');
      },
    }),
    endpoint({
      name: 'getArtifact',
      method: 'get',
      route: '/task/<taskId>/runs/<runId>/artifacts/<name>',
      params: runNameParams,
      scopes: getArtifactScopes,
      output: GetArtifactResponse,
      title: 'Get Artifact Data from Run',
      description:
        'Redirects (303) to the artifact: the blob store for `s3` (a signed URL valid 30 minutes), the URL of a ' +
        '`reference`; the body is `{storageType, url}`. Links are followed. An `error` artifact answers 424 ' +
        'with `{reason, message}`. Needs `queue:get-artifact:<name>` for the name and every link target; a ' +
        'deployment grants `queue:get-artifact:public/*` to the `anonymous` role to make `public/` artifacts ' +
        'readable by anyone.',
      stability: 'stable',
      category: 'Artifacts',
      handler: async (c) => redirect(c, await resolveForRead(c, parseRunId(c.params.runId))),
    }),
    endpoint({
      name: 'getLatestArtifact',
      method: 'get',
      route: '/task/<taskId>/artifacts/<name>',
      params: taskNameParams,
      scopes: getArtifactScopes,
      output: GetArtifactResponse,
      title: 'Get Artifact Data from Latest Run',
      description: 'As getArtifact, on the latest run of the task.',
      stability: 'stable',
      category: 'Artifacts',
      handler: async (c) => redirect(c, await resolveForRead(c, 'latest')),
    }),
    endpoint({
      name: 'listArtifacts',
      method: 'get',
      route: '/task/<taskId>/runs/<runId>/artifacts',
      params: runParams,
      query: PageQuery,
      scopes: 'queue:list-artifacts:<taskId>:<runId>',
      output: ListArtifactsResponse,
      title: 'Get Artifacts from Run',
      description: 'The artifacts of a run by name, at most 1000 a page (`limit`); links are not followed.',
      stability: 'stable',
      category: 'Artifacts',
      handler: async ({ params, query }) => {
        const runId = parseRunId(params.runId);
        const latest = await latestRunId(params.taskId);
        if (runId > latest) {
          throw new ApiError(
            'ResourceNotFound',
            `Task with taskId: \`${params.taskId}\` has no run with runId: ${runId}`,
          );
        }
        return listPage(params.taskId, runId, query);
      },
    }),
    endpoint({
      name: 'listLatestArtifacts',
      method: 'get',
      route: '/task/<taskId>/artifacts',
      params: taskParams,
      query: PageQuery,
      scopes: 'queue:list-artifacts:<taskId>',
      output: ListArtifactsResponse,
      title: 'Get Artifacts from Latest Run',
      description: 'As listArtifacts, on the latest run of the task.',
      stability: 'stable',
      category: 'Artifacts',
      handler: async ({ params, query }) => listPage(params.taskId, await latestRunId(params.taskId), query),
    }),
    endpoint({
      name: 'artifactInfo',
      method: 'get',
      route: '/task/<taskId>/runs/<runId>/artifact-info/<name>',
      params: runNameParams,
      scopes: 'queue:list-artifacts:<taskId>:<runId>',
      output: ArtifactResponse,
      title: 'Get Artifact Information From Run',
      description: 'The metadata of an artifact (a link is shown as such, not followed).',
      stability: 'stable',
      category: 'Artifacts',
      handler: async ({ params }) =>
        artifactJson(await findArtifact(params.taskId, parseRunId(params.runId), params.name)),
    }),
    endpoint({
      name: 'latestArtifactInfo',
      method: 'get',
      route: '/task/<taskId>/artifact-info/<name>',
      params: taskNameParams,
      scopes: 'queue:list-artifacts:<taskId>',
      output: ArtifactResponse,
      title: 'Get Artifact Information From Latest Run',
      description: 'As artifactInfo, on the latest run of the task.',
      stability: 'stable',
      category: 'Artifacts',
      handler: async ({ params }) =>
        artifactJson(await findArtifact(params.taskId, await latestRunId(params.taskId), params.name)),
    }),
    endpoint({
      name: 'artifact',
      method: 'get',
      route: '/task/<taskId>/runs/<runId>/artifact-content/<name>',
      params: runNameParams,
      scopes: getArtifactScopes,
      output: ArtifactContentResponse,
      title: 'Get Artifact Content From Run',
      description:
        'Where to get an artifact, as JSON: `{storageType: "s3", url}` (a signed blob store URL valid 30 ' +
        'minutes), `{storageType: "reference", url}` or `{storageType: "error", reason, message}`. Links are ' +
        'followed, with the same scopes as getArtifact.',
      stability: 'stable',
      category: 'Artifacts',
      handler: async (c) => {
        const row = await resolveForRead(c, parseRunId(c.params.runId));
        return content(row);
      },
    }),
    endpoint({
      name: 'latestArtifact',
      method: 'get',
      route: '/task/<taskId>/artifact-content/<name>',
      params: taskNameParams,
      scopes: getArtifactScopes,
      output: ArtifactContentResponse,
      title: 'Get Artifact Content From Latest Run',
      description: 'As artifact, on the latest run of the task.',
      stability: 'stable',
      category: 'Artifacts',
      handler: async (c) => content(await resolveForRead(c, 'latest')),
    }),
  ];
}
