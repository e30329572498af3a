/** The index API: find, list, insert and delete entries; redirect to their artifacts; history. */
import { createHash } from 'node:crypto';
import {
  decodeContinuation,
  encodeContinuation,
  keysetPage,
  pageSize,
} from '../../platform/api/pagination.ts';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { ApiError } from '../../platform/errors.ts';
import type { ArtifactUrls } from './artifact-url.ts';
import type { IndexContext } from './context.ts';
import * as db from './db.ts';
import { checkPath, joinPath } from './namespaces.ts';
import {
  IndexedTaskResponse,
  IndexHistoryResponse,
  InsertTaskRequest,
  ListNamespacesResponse,
  ListTasksAtIndexRequest,
  ListTasksResponse,
  PageQuery,
} from './schemas.ts';

/** Artifact names: printable ASCII, `/` included (the route takes the rest of the path). */
const artifactNamePattern = /^[\x20-\x7e/]+$/;

const CATEGORY = 'Index Service';

export function indexedTaskJson(row: db.IndexedTaskRow) {
  return {
    namespace: joinPath(row.namespace, row.name),
    taskId: row.taskId,
    rank: row.rank,
    data: row.data,
    expires: row.expires.toJSON(),
  };
}

const afterToken = (token: string | undefined) =>
  decodeContinuation(token, (v): v is { after: string } => typeof v.after === 'string');

export function indexEndpoints(ctx: IndexContext, artifactUrls: ArtifactUrls): EndpointDeclaration[] {
  async function findOrFail(path: string): Promise<db.IndexedTaskRow> {
    const row = await db.getIndexedTask(ctx.database, path, ctx.now());
    if (!row) throw new ApiError('ResourceNotFound', `Indexed task not found at ${JSON.stringify(path)}`);
    return row;
  }

  return [
    endpoint({
      name: 'findTask',
      method: 'get',
      route: '/task/<indexPath>',
      scopes: 'index:find-task:<indexPath>',
      output: IndexedTaskResponse,
      title: 'Find Indexed Task',
      description:
        'The task indexed at an index path (the one of highest rank, the latest among equals), or 404 ' +
        'when there is none or it has expired.',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params }) => {
        checkPath(params.indexPath, 'indexPath');
        return indexedTaskJson(await findOrFail(params.indexPath));
      },
    }),
    endpoint({
      name: 'findTasksAtIndex',
      method: 'post',
      route: '/tasks/indexes',
      query: PageQuery,
      scopes: { AllOf: [{ for: 'indexPath', in: 'indexPaths', each: 'index:find-task:<indexPath>' }] },
      input: ListTasksAtIndexRequest,
      output: ListTasksResponse,
      title: 'Find tasks at indexes',
      description:
        'The tasks indexed at each of the given index paths, in the order given, leaving out paths with ' +
        'no entry (or an expired one); at most 1000 a page. Pass the same `indexes` with the ' +
        '`continuationToken` of a page to get the next one (with other `indexes` the token is ignored). ' +
        'Needs `index:find-task:<indexPath>` for every path.',
      stability: 'experimental',
      category: CATEGORY,
      handler: async ({ body, query, authorize }) => {
        const indexes = body.indexes ?? [];
        authorize({ indexPaths: indexes });
        indexes.forEach((path, i) => {
          checkPath(path, `indexes[${i}]`);
        });
        const digest = createHash('sha256').update(JSON.stringify(indexes)).digest('base64url').slice(0, 16);
        const token = decodeContinuation(
          query.continuationToken,
          (v): v is { offset: number; digest: string } =>
            Number.isInteger(v.offset) && (v.offset as number) >= 0 && typeof v.digest === 'string',
        );
        const offset = token && token.digest === digest ? token.offset : 0;
        const limit = pageSize(query.limit);
        const rows = await db.findIndexedTasks(ctx.database, indexes, ctx.now(), offset, limit + 1);
        return {
          tasks: rows.slice(0, limit).map(indexedTaskJson),
          ...(rows.length > limit
            ? { continuationToken: encodeContinuation({ offset: offset + limit, digest }) }
            : {}),
        };
      },
    }),
    endpoint({
      name: 'listNamespaces',
      method: 'get',
      route: '/namespaces/<namespace>',
      query: PageQuery,
      scopes: 'index:list-namespaces:<namespace>',
      output: ListNamespacesResponse,
      title: 'List Namespaces',
      description:
        'The namespaces directly under a namespace (`""` for the top level), by name, at most 1000 a page ' +
        '(`limit`), with a `continuationToken` when there are more.',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params, query }) => {
        checkPath(params.namespace, 'namespace', { allowEmpty: true });
        const limit = pageSize(query.limit);
        const after = afterToken(query.continuationToken);
        const rows = await db.listNamespaces(
          ctx.database,
          params.namespace,
          ctx.now(),
          after?.after,
          limit + 1,
        );
        const { page, continuation } = keysetPage(rows, limit, (last) => ({ after: last.name }));
        return {
          namespaces: page.map((r) => ({
            namespace: joinPath(r.parent, r.name),
            name: r.name,
            expires: r.expires.toJSON(),
          })),
          ...continuation,
        };
      },
    }),
    endpoint({
      name: 'listTasks',
      method: 'get',
      route: '/tasks/<namespace>',
      query: PageQuery,
      scopes: 'index:list-tasks:<namespace>',
      output: ListTasksResponse,
      title: 'List Tasks',
      description:
        'The entries directly in a namespace (`""` for the top level), by name, at most 1000 a page ' +
        '(`limit`), with a `continuationToken` when there are more. Meant for people browsing the index.',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params, query }) => {
        checkPath(params.namespace, 'namespace', { allowEmpty: true });
        const limit = pageSize(query.limit);
        const after = afterToken(query.continuationToken);
        const rows = await db.listIndexedTasks(
          ctx.database,
          params.namespace,
          ctx.now(),
          after?.after,
          limit + 1,
        );
        const { page, continuation } = keysetPage(rows, limit, (last) => ({ after: last.name }));
        return { tasks: page.map(indexedTaskJson), ...continuation };
      },
    }),
    endpoint({
      name: 'insertTask',
      method: 'put',
      route: '/task/<namespace>',
      scopes: 'index:insert-task:<namespace>',
      input: InsertTaskRequest,
      output: IndexedTaskResponse,
      title: 'Insert Task into Index',
      description:
        'Indexes a task at an index path. When the entry there has a higher rank (and has not expired) it ' +
        'stays, and the answer (still 200) is that entry. The namespaces above the path are created or ' +
        'extended to expire no earlier than the day after the entry. Tasks are usually indexed by ' +
        'routes instead: a task with the route `index.<path>` is indexed at `<path>` when it completes, ' +
        'with `rank`, `data` and `expires` from `task.extra.index`.',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params, body }) => {
        checkPath(params.namespace, 'namespace');
        const expires = new Date(body.expires);
        if (!Number.isFinite(body.rank)) throw new ApiError('InputError', 'rank must be a finite number');
        const now = ctx.now();
        const { entry } = await ctx.database.transaction((tx) =>
          db.indexTask(
            tx,
            params.namespace,
            { taskId: body.taskId, rank: body.rank, data: body.data, expires },
            { source: 'insertTask', at: now },
            now,
          ),
        );
        return indexedTaskJson(entry);
      },
    }),
    endpoint({
      name: 'deleteTask',
      method: 'delete',
      route: '/task/<namespace>',
      scopes: 'index:delete-task:<namespace>',
      title: 'Remove Task from Index',
      description:
        'Removes the entry at an index path (answers 200 when there is none). Its namespaces stay, and ' +
        'entries of lower rank indexed there before do not come back: they were never kept.',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params }) => {
        checkPath(params.namespace, 'namespace');
        await db.deleteIndexedTask(ctx.database, params.namespace);
        return {};
      },
    }),
    endpoint({
      name: 'findArtifactFromTask',
      method: 'get',
      route: '/task/<indexPath>/artifacts/<name>',
      params: { name: artifactNamePattern },
      scopes: 'queue:get-artifact:<name>',
      title: 'Get Artifact From Indexed Task',
      description:
        'Redirects (303) to the artifact `name` of the latest run of the task indexed at `indexPath`: ' +
        "the queue's getLatestArtifact URL, signed for 15 minutes by the index unless the artifact is " +
        'public (readable by the `anonymous` role). 404 when nothing is indexed there. Two calls may ' +
        'reach different tasks if one is indexed in between: for files that belong together, use an ' +
        'index path naming something unique (a revision) or one artifact.',
      stability: 'stable',
      category: CATEGORY,
      handler: async ({ params, clientId, rootUrl, reply }) => {
        checkPath(params.indexPath, 'indexPath');
        const row = await findOrFail(params.indexPath);
        const url = await artifactUrls.redirectUrl({
          rootUrl,
          taskId: row.taskId,
          name: params.name,
          anonymousRequest: clientId === undefined,
        });
        reply.status(303).header('location', url);
        return { url };
      },
    }),
    endpoint({
      name: 'listTaskHistory',
      method: 'get',
      route: '/task/<namespace>/history',
      scopes: 'index:find-task:<namespace>',
      output: IndexHistoryResponse,
      title: 'Index Path History',
      description:
        `The last ${db.HISTORY_LENGTH} attempts to index a task at an index path, newest first: the task, ` +
        'its run and state (for tasks indexed from queue events), its rank, whether it became the entry ' +
        '(false when an entry of higher rank was there), how (`event` or `insertTask`) and when. Not ' +
        'in Taskcluster.',
      stability: 'experimental',
      category: CATEGORY,
      handler: async ({ params }) => {
        checkPath(params.namespace, 'namespace');
        const rows = await db.getHistory(ctx.database, params.namespace, ctx.now());
        return {
          namespace: params.namespace,
          history: rows.map((r) => ({
            taskId: r.taskId,
            ...(r.runId !== null ? { runId: r.runId } : {}),
            ...(r.state !== null ? { state: r.state as 'completed' | 'failed' | 'exception' } : {}),
            rank: r.rank,
            indexed: r.indexed,
            source: r.source as 'event' | 'insertTask',
            time: r.at.toJSON(),
          })),
        };
      },
    }),
  ];
}
