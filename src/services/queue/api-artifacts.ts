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
import { assertValidBlobKey, InvalidBlobKeyError } from '../../platform/blob/index.ts';
import { ApiError } from '../../platform/errors.ts';
import {
  ArtifactContentResponse,
  ArtifactResponse,
  artifactJson,
  artifactMessage,
  FinishArtifactRequest,
  GetArtifactResponse,
  ListArtifactsResponse,
  MAX_ARTIFACT_NAME,
  PostArtifactRequest,
  PostArtifactResponse,
} from './artifact-json.ts';
import type { ArtifactRow } from './artifacts-db.ts';
import * as adb from './artifacts-db.ts';
import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { publishTaskEvent } from './events.ts';
import { slugidPattern } from './schemas.ts';
import type { TaskRecord } from './task-record.ts';

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

/** How far before now an artifact's expires may be (clock drift), as for tasks. */
const EXPIRES_DRIFT_MS = 15 * 60 * 1000;
/** A run resolved as exception still takes artifacts this long (the worker's last uploads). */
const UPLOAD_AFTER_EXCEPTION_MS = 25 * 60 * 1000;
/** How long the upload URL of an s3 artifact works. */
const PUT_URL_MS = 45 * 60 * 1000;
/** How long the download URL a reader is redirected to works. */
const GET_URL_MS = 30 * 60 * 1000;
/** Links followed before giving up (a chain this long is as unusable as a cycle). */
const MAX_LINK_HOPS = 100;

const STORAGE_TYPE_HEADER = 'x-taskcluster-artifact-storage-type';

/**
 * Why `name` is not a usable artifact name, or undefined. Besides Taskcluster's printable ASCII
 * and length, names are relative `/`-separated paths with no tricks: s3 artifacts become blob
 * keys `<taskId>/<runId>/<name>`, and the rules are the same for every storage type so an
 * artifact can be a link today and a file tomorrow.
 */
export function artifactNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_ARTIFACT_NAME) return `must be at most ${MAX_ARTIFACT_NAME} characters`;
  if (!/^[\x20-\x7e]+$/.test(name)) return 'must be printable ASCII';
  if (name.startsWith('/')) return 'must be a relative path (no leading "/")';
  if (name.includes('\\')) return 'must not contain backslashes';
  for (const segment of name.split('/')) {
    if (segment === '') return 'must not have empty segments ("//" or a trailing "/")';
    if (segment === '.' || segment === '..') return `must not have "${segment}" segments`;
  }
  return undefined;
}

function checkName(name: string, what = 'artifact name'): void {
  const problem = artifactNameProblem(name);
  if (problem) throw new ApiError('InputError', `${what} ${JSON.stringify(name)} ${problem}`);
}

/** Printable ASCII, as the blob stores require of the content type they sign. */
function checkContentType(contentType: string): void {
  if (!/^[\x20-\x7e]+$/.test(contentType) || contentType.trim() === '') {
    throw new ApiError(
      'InputError',
      `contentType ${JSON.stringify(contentType)} must be non-blank printable ASCII`,
    );
  }
}

/** The stored details of a request (what must match when the artifact is created again). */
function detailsOf(body: PostArtifactRequest): Record<string, unknown> {
  switch (body.storageType) {
    case 's3':
      return body.contentLength === undefined ? {} : { contentLength: body.contentLength };
    case 'reference':
      return { url: body.url };
    case 'link':
      return { artifact: body.artifact };
    case 'error':
      return { reason: body.reason, message: body.message };
    default:
      return {};
  }
}

function sameDetails(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/**
 * Whether `incoming` may replace `existing` (an artifact of that name exists): the same
 * content type (links have none to speak of), an expiry no earlier, and the same details, except
 * that a reference may point elsewhere or become a link.
 */
function compatible(existing: ArtifactRow, incoming: ArtifactRow): boolean {
  if (incoming.storageType !== 'link' && incoming.contentType !== existing.contentType) return false;
  if (incoming.expires.getTime() < existing.expires.getTime()) return false;
  if (existing.storageType === incoming.storageType) {
    return existing.storageType === 'reference' || sameDetails(existing.details, incoming.details);
  }
  return existing.storageType === 'reference' && incoming.storageType === 'link';
}

function parseRunId(raw: string): number {
  const runId = Number(raw);
  if (!Number.isSafeInteger(runId)) throw new ApiError('InputError', `runId ${raw} is not valid`);
  return runId;
}

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

  async function createArtifact(params: Record<string, string>, body: PostArtifactRequest) {
    const { taskId, name } = params;
    const runId = parseRunId(params.runId);
    checkName(name);
    if (body.storageType === 'object') {
      throw new ApiError(
        'InputError',
        'storageType "object" needs an object service, which this deployment does not have: ' +
          'create the artifact with storageType "s3" (upload to the returned putUrl), "reference", "link" or "error"',
      );
    }
    const now = ctx.now();
    const expires = new Date(body.expires);
    if (expires.getTime() < now.getTime() - EXPIRES_DRIFT_MS) {
      throw new ApiError('InputError', `Expires must be in the future (got ${body.expires})`);
    }
    const contentType =
      body.storageType === 'link'
        ? (body.contentType ?? 'application/binary')
        : body.storageType === 'error'
          ? 'application/binary'
          : body.contentType;
    if (body.storageType === 's3') {
      blobStore(); // 501 before anything is stored when there is nowhere to put the bytes
      checkContentType(contentType);
      try {
        assertValidBlobKey(adb.artifactBlobKey({ taskId, runId, name }));
      } catch (err) {
        if (err instanceof InvalidBlobKeyError) {
          throw new ApiError(
            'InputError',
            `artifact name ${JSON.stringify(name)} cannot be stored: ${err.message}`,
          );
        }
        throw err;
      }
    }
    if (body.storageType === 'link') checkName(body.artifact, 'link target');
    const incoming: ArtifactRow = {
      taskId,
      runId,
      name,
      storageType: body.storageType,
      contentType,
      details: detailsOf(body),
      present: true,
      expires,
    };

    const stored = await ctx.database.transaction(async (tx) => {
      // A share lock: artifacts of a task are created in parallel, but not while its runs change.
      await tx.query('select 1 from queue_tasks where task_id = $1 for share', [taskId]);
      const task = await db.getTask(tx, taskId);
      if (!task) throw new ApiError('InputError', `Task ${taskId} not found`);
      const run = task.runs[runId];
      if (!run) throw new ApiError('InputError', `Run ${runId} not found on task ${taskId}`);
      if (!run.workerGroup || !run.workerId) {
        throw new ApiError(
          'InputError',
          `Run ${runId} of task ${taskId} was not claimed by a worker and so no artifacts can exist`,
        );
      }
      if (expires.getTime() > task.expires.getTime()) {
        throw new ApiError(
          'InputError',
          `Artifact expires (${body.expires}) after the task expiration ${task.expires.toJSON()} (task.expires < expires): this is not allowed, artifacts may not expire after the task they belong to expires`,
        );
      }
      const uploadAllowed =
        run.state === 'running' ||
        (run.state === 'exception' &&
          run.resolved !== undefined &&
          now.getTime() - new Date(run.resolved).getTime() <= UPLOAD_AFTER_EXCEPTION_MS);
      if (!uploadAllowed) {
        throw new ApiError(
          'RequestConflict',
          `Artifacts cannot be created for run ${runId} of task ${taskId}: it is ${run.state}. A run takes ` +
            'artifacts while it is running, and for 25 minutes after it is resolved as exception.',
        );
      }
      if (body.storageType === 'link') await checkLinkTarget(tx, incoming, body.artifact);

      let existing = await adb.getArtifact(tx, taskId, runId, name, true);
      if (!existing) {
        if (await adb.insertArtifact(tx, incoming)) {
          await announce(tx, task, incoming);
          return incoming;
        }
        // Created by a concurrent request since we looked: judge against that one.
        existing = (await adb.getArtifact(tx, taskId, runId, name, true))!;
      }
      if (!compatible(existing, incoming)) {
        throw new ApiError(
          'RequestConflict',
          `Artifact ${JSON.stringify(name)} already exists on run ${runId} of task ${taskId} with different ` +
            'properties: it may be created again only with the same definition (a later expires is allowed, ' +
            'and a reference may be replaced by another reference or a link)',
        );
      }
      const updated: ArtifactRow = {
        ...existing,
        storageType: incoming.storageType,
        details: incoming.details,
        expires: incoming.expires,
      };
      await adb.updateArtifact(tx, updated);
      await announce(tx, task, updated);
      return updated;
    });

    if (stored.storageType !== 's3')
      return { storageType: stored.storageType as 'reference' | 'link' | 'error' };
    const putExpires = new Date(now.getTime() + PUT_URL_MS);
    const upload = await blobStore().uploadUrl(adb.artifactBlobKey(stored), {
      contentType: stored.contentType,
      contentLength:
        typeof stored.details.contentLength === 'number' ? stored.details.contentLength : undefined,
      expires: putExpires,
    });
    return {
      storageType: 's3' as const,
      putUrl: upload.url,
      expires: putExpires.toJSON(),
      contentType: stored.contentType,
    };
  }

  /** A link's target must exist on the same run, and following it must not come back to the link. */
  async function checkLinkTarget(tx: Parameters<typeof db.getTask>[0], link: ArtifactRow, target: string) {
    const seen = [link.name];
    let current = target;
    for (let hops = 0; ; hops++) {
      if (seen.includes(current)) {
        throw new ApiError(
          'InputError',
          `Artifact would lead to a link cycle: ${[...seen, current].join(' -> ')}`,
        );
      }
      if (hops > MAX_LINK_HOPS)
        throw new ApiError('InputError', `Link leads to more than ${MAX_LINK_HOPS} links`);
      const row = await adb.getArtifact(tx, link.taskId, link.runId, current);
      if (!row) {
        throw new ApiError(
          'InputError',
          `Link target ${JSON.stringify(current)} does not exist on run ${link.runId} of task ${link.taskId}: create it first`,
        );
      }
      if (row.storageType !== 'link') return;
      seen.push(current);
      current = String(row.details.artifact);
    }
  }

  /** artifact-created, at once for every storage type but s3 (whose bytes come later), as upstream. */
  async function announce(tx: Parameters<typeof db.getTask>[0], task: TaskRecord, row: ArtifactRow) {
    if (row.storageType === 's3') return;
    const run = task.runs[row.runId];
    await publishTaskEvent(tx, 'artifact-created', task, {
      runId: row.runId,
      workerGroup: run.workerGroup,
      workerId: run.workerId,
      artifact: artifactMessage(row),
    });
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
