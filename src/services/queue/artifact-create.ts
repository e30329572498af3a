import type { BlobStore } from '../../platform/blob/index.ts';
import { assertValidBlobKey, InvalidBlobKeyError } from '../../platform/blob/index.ts';
import { ApiError } from '../../platform/errors.ts';
import { artifactMessage, MAX_ARTIFACT_NAME, type PostArtifactRequest } from './artifact-json.ts';
import type { ArtifactRow } from './artifacts-db.ts';
import * as adb from './artifacts-db.ts';
import type { QueueContext } from './context.ts';
import * as db from './db.ts';
import { publishTaskEvent } from './events.ts';
import type { TaskRecord } from './task-record.ts';

/** Links followed before giving up (a chain this long is as unusable as a cycle). */
export const MAX_LINK_HOPS = 100;
/** How far before now an artifact's expires may be (clock drift), as for tasks. */
const EXPIRES_DRIFT_MS = 15 * 60 * 1000;
/** A run resolved as exception still takes artifacts this long (the worker's last uploads). */
const UPLOAD_AFTER_EXCEPTION_MS = 25 * 60 * 1000;
/** How long the upload URL of an s3 artifact works. */
const PUT_URL_MS = 45 * 60 * 1000;

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

export function checkName(name: string, what = 'artifact name'): void {
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

export function parseRunId(raw: string): number {
  const runId = Number(raw);
  if (!Number.isSafeInteger(runId)) throw new ApiError('InputError', `runId ${raw} is not valid`);
  return runId;
}

/** createArtifact's work, given where s3 bytes go. */
export function artifactCreator(ctx: QueueContext, blobStore: () => BlobStore) {
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

  return { createArtifact };
}
