/**
 * Artifact rows (queue_artifacts) and where their bytes live in the blob store. An artifact is
 * keyed by (taskId, runId, name); `details` holds what its storage type needs: s3
 * `{contentLength?}`, reference `{url}`, link `{artifact}`, error `{reason, message}`.
 */
import type { BlobStore } from '../../platform/blob/index.ts';
import type { Queryable } from '../../platform/db/index.ts';
import type { StorageType } from './artifact-json.ts';

export interface ArtifactRow {
  taskId: string;
  runId: number;
  name: string;
  storageType: StorageType;
  contentType: string;
  details: Record<string, unknown>;
  /** Every storage type this deployment creates is present at once (object artifacts would not be). */
  present: boolean;
  expires: Date;
}

const columns = `task_id as "taskId", run_id as "runId", name, storage_type as "storageType",
  content_type as "contentType", details, present, expires`;

/** The blob of an s3 artifact: `<taskId>/<runId>/<name>`. */
export const artifactBlobKey = (a: { taskId: string; runId: number; name: string }): string =>
  `${a.taskId}/${a.runId}/${a.name}`;

export async function getArtifact(
  q: Queryable,
  taskId: string,
  runId: number,
  name: string,
  forUpdate = false,
): Promise<ArtifactRow | undefined> {
  const res = await q.query<ArtifactRow>(
    `select ${columns} from queue_artifacts where task_id = $1 and run_id = $2 and name = $3${
      forUpdate ? ' for update' : ''
    }`,
    [taskId, runId, name],
  );
  return res.rows[0];
}

/** Inserts the artifact unless one of that name exists; true when inserted. */
export async function insertArtifact(q: Queryable, a: ArtifactRow): Promise<boolean> {
  const res = await q.query(
    `insert into queue_artifacts (task_id, run_id, name, storage_type, content_type, details, present, expires)
     values ($1, $2, $3, $4, $5, $6, $7, $8)
     on conflict (task_id, run_id, name) do nothing`,
    [
      a.taskId,
      a.runId,
      a.name,
      a.storageType,
      a.contentType,
      JSON.stringify(a.details),
      a.present,
      a.expires,
    ],
  );
  return res.rowCount === 1;
}

/** Replaces what a compatible re-creation may change: storage type, details, expires. */
export async function updateArtifact(q: Queryable, a: ArtifactRow): Promise<void> {
  await q.query(
    `update queue_artifacts set storage_type = $4, details = $5, expires = $6, present = $7
     where task_id = $1 and run_id = $2 and name = $3`,
    [a.taskId, a.runId, a.name, a.storageType, JSON.stringify(a.details), a.expires, a.present],
  );
}

/** A page of a run's artifacts in name order, after `after` when given. */
export async function listArtifacts(
  q: Queryable,
  taskId: string,
  runId: number,
  after: string | undefined,
  limit: number,
): Promise<ArtifactRow[]> {
  const res = await q.query<ArtifactRow>(
    `select ${columns} from queue_artifacts
     where task_id = $1 and run_id = $2 and ($3::text is null or name > $3 collate "C")
     order by name collate "C" limit $4`,
    [taskId, runId, after ?? null, limit],
  );
  return res.rows;
}

/**
 * Deletes the blobs of expired s3 artifacts, as `expireQueueData`'s `onArtifactsExpired`:
 * `expireQueueData(db, now, (rows) => deleteArtifactBlobs(blobStore, rows))`.
 */
export async function deleteArtifactBlobs(
  store: BlobStore,
  rows: Array<{ taskId: string; runId: number; name: string; storageType: string }>,
): Promise<void> {
  const keys = rows.filter((r) => r.storageType === 's3').map(artifactBlobKey);
  if (keys.length) await store.delete(keys);
}
