/** Request and response bodies of the index API (Taskcluster's `index/v1` schemas). */
import { Type } from '@sinclair/typebox';
import { SlugId } from '../queue/schemas.ts';
import { MAX_PATH_LENGTH } from './namespaces.ts';

const DateTime = Type.String({ format: 'date-time' });
const Path = Type.String({ maxLength: MAX_PATH_LENGTH });
const Data = Type.Object(
  {},
  { additionalProperties: true, description: 'Arbitrary JSON object stored with the entry.' },
);

const indexedTaskFields = {
  namespace: Path,
  taskId: SlugId,
  rank: Type.Number({
    description: 'The entry at a path is replaced only by a task of equal or higher rank.',
  }),
  data: Data,
  expires: DateTime,
};

export const IndexedTaskResponse = Type.Object(indexedTaskFields, {
  $id: 'indexed-task-response',
  additionalProperties: false,
  title: 'Indexed Task Response',
});

export const InsertTaskRequest = Type.Object(
  { taskId: SlugId, rank: Type.Number(), data: Data, expires: DateTime },
  { $id: 'insert-task-request', additionalProperties: false, title: 'Insert Task Request' },
);

const ContinuationToken = Type.Optional(Type.String());

export const ListTasksResponse = Type.Object(
  {
    tasks: Type.Array(Type.Object(indexedTaskFields, { additionalProperties: false })),
    continuationToken: ContinuationToken,
  },
  { $id: 'list-tasks-response', additionalProperties: false, title: 'List Tasks Response' },
);

export const ListNamespacesResponse = Type.Object(
  {
    namespaces: Type.Array(
      Type.Object(
        { namespace: Path, name: Type.String(), expires: DateTime },
        { additionalProperties: false },
      ),
    ),
    continuationToken: ContinuationToken,
  },
  { $id: 'list-namespaces-response', additionalProperties: false, title: 'List Namespaces Response' },
);

export const ListTasksAtIndexRequest = Type.Object(
  { indexes: Type.Optional(Type.Array(Type.String())) },
  { $id: 'list-tasks-at-index', additionalProperties: false, title: 'List Tasks At Index Request' },
);

export const IndexHistoryResponse = Type.Object(
  {
    namespace: Path,
    history: Type.Array(
      Type.Object(
        {
          taskId: SlugId,
          runId: Type.Optional(Type.Integer({ minimum: 0 })),
          state: Type.Optional(
            Type.Union([Type.Literal('completed'), Type.Literal('failed'), Type.Literal('exception')]),
          ),
          rank: Type.Number(),
          indexed: Type.Boolean({
            description: 'Whether the task became the entry (false: an entry of higher rank was there).',
          }),
          source: Type.Union([Type.Literal('event'), Type.Literal('insertTask')]),
          time: DateTime,
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'index-history-response', additionalProperties: false, title: 'Index History Response' },
);

export const PageQuery = Type.Object({
  continuationToken: Type.Optional(Type.String({ minLength: 1 })),
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
});
