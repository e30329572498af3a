/**
 * Artifacts on the wire: the request and response schemas of the artifact endpoints (named as
 * the official client's reference names them) and the JSON of a stored artifact.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { ArtifactRow } from './artifacts-db.ts';
import { SlugId } from './schemas.ts';

const DateTime = Type.String({ format: 'date-time' });
const ContentType = Type.String({ maxLength: 255 });
const ContentLength = Type.Integer({ minimum: 0 });

/** Artifact names: printable ASCII, at most 1024 characters. */
export const MAX_ARTIFACT_NAME = 1024;

export const STORAGE_TYPES = ['s3', 'object', 'reference', 'link', 'error'] as const;
export type StorageType = (typeof STORAGE_TYPES)[number];

export const ERROR_REASONS = [
  'file-missing-on-worker',
  'invalid-resource-on-worker',
  'too-large-file-on-worker',
  'file-not-readable-on-worker',
] as const;
const ErrorReason = Type.Union(ERROR_REASONS.map((r) => Type.Literal(r)));

const S3Request = Type.Object(
  {
    storageType: Type.Literal('s3'),
    expires: DateTime,
    contentType: ContentType,
    contentLength: Type.Optional(ContentLength),
  },
  { additionalProperties: false, title: 'S3 Artifact Request' },
);
const ObjectRequest = Type.Object(
  {
    storageType: Type.Literal('object'),
    expires: DateTime,
    contentType: ContentType,
    contentLength: Type.Optional(ContentLength),
  },
  {
    additionalProperties: false,
    title: 'Object Artifact Request',
    description: 'Not supported by this deployment (there is no object service): answered with 400.',
  },
);
const ReferenceRequest = Type.Object(
  {
    storageType: Type.Literal('reference'),
    expires: DateTime,
    url: Type.String({ format: 'uri' }),
    contentType: ContentType,
  },
  { additionalProperties: false, title: 'Reference Artifact Request' },
);
const LinkRequest = Type.Object(
  {
    storageType: Type.Literal('link'),
    expires: DateTime,
    artifact: Type.String({ minLength: 1, maxLength: MAX_ARTIFACT_NAME }),
    contentType: Type.Optional(ContentType),
  },
  { additionalProperties: false, title: 'Link Artifact Request' },
);
const ErrorRequest = Type.Object(
  {
    storageType: Type.Literal('error'),
    expires: DateTime,
    reason: ErrorReason,
    message: Type.String({ maxLength: 4096 }),
  },
  { additionalProperties: false, title: 'Error Artifact Request' },
);

export const PostArtifactRequest = Type.Union(
  [S3Request, ObjectRequest, ReferenceRequest, LinkRequest, ErrorRequest],
  { $id: 'post-artifact-request', title: 'Post Artifact Request' },
);
export type PostArtifactRequest = Static<typeof PostArtifactRequest>;

export const PostArtifactResponse = Type.Union(
  [
    Type.Object(
      {
        storageType: Type.Literal('s3'),
        putUrl: Type.String({ format: 'uri' }),
        expires: DateTime,
        contentType: ContentType,
      },
      { additionalProperties: false, title: 'S3 Artifact Response' },
    ),
    Type.Object(
      { storageType: Type.Union([Type.Literal('reference'), Type.Literal('link'), Type.Literal('error')]) },
      { additionalProperties: false },
    ),
  ],
  { $id: 'post-artifact-response', title: 'Post Artifact Response' },
);

export const FinishArtifactRequest = Type.Object(
  { uploadId: SlugId },
  { $id: 'finish-artifact-request', additionalProperties: false },
);

export const GetArtifactResponse = Type.Object(
  { storageType: Type.Union([Type.Literal('s3'), Type.Literal('reference')]), url: Type.String() },
  { $id: 'get-artifact-response', additionalProperties: false },
);

const ArtifactFields = {
  storageType: Type.Union(STORAGE_TYPES.map((t) => Type.Literal(t))),
  name: Type.String({ maxLength: MAX_ARTIFACT_NAME }),
  expires: DateTime,
  contentType: ContentType,
  contentLength: Type.Optional(ContentLength),
};

export const ArtifactResponse = Type.Object(ArtifactFields, {
  $id: 'artifact-response',
  additionalProperties: false,
});

export const ListArtifactsResponse = Type.Object(
  {
    artifacts: Type.Array(Type.Object(ArtifactFields, { additionalProperties: false })),
    continuationToken: Type.Optional(Type.String()),
  },
  { $id: 'list-artifacts-response', additionalProperties: false },
);

export const ArtifactContentResponse = Type.Union(
  [
    Type.Object({ storageType: Type.Literal('s3'), url: Type.String() }, { additionalProperties: false }),
    Type.Object(
      { storageType: Type.Literal('reference'), url: Type.String() },
      { additionalProperties: false },
    ),
    Type.Object(
      { storageType: Type.Literal('error'), reason: ErrorReason, message: Type.String() },
      { additionalProperties: false },
    ),
  ],
  { $id: 'artifact-content-response' },
);

/** The artifact-response JSON of a stored artifact (links are shown as links, not followed). */
export function artifactJson(row: ArtifactRow): Static<typeof ArtifactResponse> {
  const length = row.details.contentLength;
  return {
    storageType: row.storageType,
    name: row.name,
    expires: row.expires.toJSON(),
    contentType: row.contentType,
    ...(typeof length === 'number' ? { contentLength: length } : {}),
  };
}

/** The `artifact` of an artifact-created message: no contentLength (that schema has none). */
export function artifactMessage(row: ArtifactRow) {
  return {
    storageType: row.storageType,
    name: row.name,
    expires: row.expires.toJSON(),
    contentType: row.contentType,
  };
}
