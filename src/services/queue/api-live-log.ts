/**
 * Live logs (beyond upstream): the worker appends a run's log while it runs (appendLiveLog) and
 * readers stream it (getLiveLog), following until the run is resolved. Offsets are UTF-8 byte
 * offsets. The worker publishes the getLiveLog URL as the `reference` artifact
 * `public/logs/live.log`, so the URL is what readers of that artifact are redirected to.
 */
import type { ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import { type EndpointDeclaration, endpoint } from '../../platform/api/types.ts';
import { ApiError } from '../../platform/errors.ts';
import { parseRunId } from './artifact-create.ts';
import type { QueueContext } from './context.ts';
import { appendChunk, lockLog, readLog, runInfo } from './live-log-db.ts';
import type { LiveLogHub } from './live-log-hub.ts';
import { slugidPattern } from './schemas.ts';

/** Most bytes of data one appendLiveLog request carries. */
export const MAX_LIVE_LOG_CHUNK_BYTES = 1024 * 1024;
/** Default most bytes one run's live log may hold. */
export const DEFAULT_LIVE_LOG_MAX_BYTES = 100 * 1024 * 1024;

const runParams = { taskId: slugidPattern, runId: /^[1-9]*[0-9]+$/ };
const RESOLVED = new Set(['completed', 'failed', 'exception']);

const AppendLiveLogRequest = Type.Object(
  {
    offset: Type.Integer({
      minimum: 0,
      description: 'Byte length (UTF-8) of the log before this chunk: where the chunk starts.',
    }),
    data: Type.String({ description: 'The chunk, as text (sent as UTF-8).' }),
  },
  { additionalProperties: false, $id: 'append-live-log-request' },
);

const AppendLiveLogResponse = Type.Object(
  { length: Type.Integer({ minimum: 0, description: 'Byte length of the log after this chunk.' }) },
  { additionalProperties: false, $id: 'append-live-log-response' },
);

const GetLiveLogQuery = Type.Object({
  offset: Type.Optional(Type.Integer({ minimum: 0 })),
  follow: Type.Optional(Type.Boolean()),
});

export interface LiveLogOptions {
  /** Most bytes one run's log may hold (default 100 MiB). */
  maxBytes?: number;
}

export function liveLogEndpoints(
  ctx: QueueContext,
  hub: LiveLogHub,
  opts: LiveLogOptions = {},
): EndpointDeclaration[] {
  const maxBytes = opts.maxBytes ?? DEFAULT_LIVE_LOG_MAX_BYTES;

  async function append(taskId: string, runId: number, offset: number, text: string) {
    const data = Buffer.from(text, 'utf8');
    if (data.length > MAX_LIVE_LOG_CHUNK_BYTES) {
      throw new ApiError(
        'InputError',
        `data is ${data.length} bytes; one appendLiveLog request carries at most ${MAX_LIVE_LOG_CHUNK_BYTES} bytes: split it`,
      );
    }
    return ctx.database.transaction(async (tx) => {
      // FOR SHARE: the run cannot be resolved until this append is committed (or refused).
      const info = await runInfo(tx, taskId, runId, true);
      if (!info) throw new ApiError('ResourceNotFound', `Task ${taskId} not found`);
      if (info.state === undefined) {
        throw new ApiError('ResourceNotFound', `Task ${taskId} has no run ${runId}`);
      }
      if (info.state !== 'running') {
        throw new ApiError(
          'RequestConflict',
          `Run ${runId} of task ${taskId} is ${info.state}, not running: its live log is closed`,
        );
      }
      const length = await lockLog(tx, taskId, runId, info.expires);
      if (offset > length) {
        throw new ApiError(
          'RequestConflict',
          `offset ${offset} is past the end of the live log, which has ${length} bytes: send from offset ${length}`,
        );
      }
      // A retried chunk: the bytes already stored must be the same ones; only its tail is new.
      const overlap = Math.min(length - offset, data.length);
      if (overlap > 0) {
        const stored = await readAll(tx, taskId, runId, offset, offset + overlap);
        if (!stored.equals(data.subarray(0, overlap))) {
          throw new ApiError(
            'RequestConflict',
            `the live log already has other bytes at offset ${offset} (it has ${length} bytes): a chunk may only be retried with the same content`,
          );
        }
      }
      const tail = data.subarray(overlap);
      if (tail.length === 0) return { length };
      if (length + tail.length > maxBytes) {
        throw new ApiError(
          'InputTooLarge',
          `the live log of run ${runId} of task ${taskId} would exceed ${maxBytes} bytes, the most a run's live log may hold (it has ${length})`,
        );
      }
      return { length: await appendChunk(tx, taskId, runId, length, tail, info.expires) };
    });
  }

  return [
    endpoint({
      name: 'appendLiveLog',
      method: 'post',
      route: '/task/<taskId>/runs/<runId>/live-log',
      params: runParams,
      scopes: 'queue:create-artifact:<taskId>/<runId>',
      input: AppendLiveLogRequest,
      output: AppendLiveLogResponse,
      title: 'Append to Live Log',
      description:
        'Appends `data` (text, stored as UTF-8) to the live log of a running run. `offset` is the byte length ' +
        'of the log before this chunk: equal to the current length, the chunk is appended; smaller, the ' +
        'request is a retry and is accepted if the bytes it overlaps are identical (only the new tail is ' +
        'appended); larger (a gap) or a differing overlap answers 409 with the current length. The answer ' +
        `is the new length. At most ${MAX_LIVE_LOG_CHUNK_BYTES} bytes per request (400 beyond); a run's log ` +
        'holds at most 100 MiB unless the deployment says otherwise (413 beyond). A run that is not running ' +
        'answers 409. Beyond upstream Taskcluster.',
      stability: 'experimental',
      category: 'Live Logs',
      handler: async ({ params, body }) =>
        append(params.taskId, parseRunId(params.runId), body.offset, body.data),
    }),
    endpoint({
      name: 'getLiveLog',
      method: 'get',
      route: '/task/<taskId>/runs/<runId>/live-log',
      params: runParams,
      query: GetLiveLogQuery,
      scopes: 'queue:get-artifact:public/logs/live.log',
      title: 'Get Live Log',
      description:
        'Answers the live log of a run as `text/plain; charset=utf-8`, from byte `offset` (default 0). With ' +
        '`follow=true` (the default) the response stays open and streams what is appended until the run is ' +
        'resolved and everything was sent (for a pending run it waits for the run to start); with ' +
        '`follow=false` it answers what exists now. Once the run is resolved it always answers the complete ' +
        'log, for as long as the task exists. A follower whose stream ends before the run is resolved (the ' +
        'server shut down) re-requests with the offset it reached. Beyond upstream Taskcluster.',
      stability: 'experimental',
      category: 'Live Logs',
      handler: async ({ params, query, reply, request }) => {
        const { taskId } = params;
        const runId = parseRunId(params.runId);
        const info = await runInfo(ctx.database, taskId, runId);
        if (!info) throw new ApiError('ResourceNotFound', `Task ${taskId} not found`);
        if (info.state === undefined) {
          throw new ApiError('ResourceNotFound', `Task ${taskId} has no run ${runId}`);
        }
        const offset = query.offset ?? 0;
        const follow = query.follow ?? true;
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/plain; charset=utf-8',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          'access-control-allow-origin': '*',
        });
        if (!follow || RESOLVED.has(info.state)) {
          await sendOnce(res, taskId, runId, offset);
          return undefined;
        }
        res.flushHeaders();
        let stop: (() => void) | undefined;
        let gone = false;
        res.on('close', () => {
          gone = true;
          stop?.();
        });
        try {
          stop = await hub.follow(taskId, runId, {
            offset,
            write: (data) => {
              res.write(data);
            },
            end: () => {
              res.end();
            },
            fail: (err) => {
              res.destroy(err);
            },
          });
          if (gone) stop();
        } catch (err) {
          request.log.warn({ err }, 'cannot follow a live log');
          res.destroy(err as Error);
        }
        return undefined;
      },
    }),
  ];

  async function sendOnce(res: ServerResponse, taskId: string, runId: number, offset: number) {
    try {
      for (let pos = offset; ; ) {
        const bytes = await readLog(ctx.database, taskId, runId, pos);
        if (bytes.length === 0 || res.destroyed) break;
        pos += bytes.length;
        if (!res.write(bytes)) {
          await new Promise((resolve) => {
            res.once('drain', resolve);
            res.once('close', resolve);
          });
        }
      }
      res.end();
    } catch (err) {
      ctx.logger.warn({ err, taskId, runId }, 'reading a live log failed');
      res.destroy(err as Error);
    }
  }
}

/** The bytes in [from, to), reading page by page. */
async function readAll(
  q: Parameters<typeof readLog>[0],
  taskId: string,
  runId: number,
  from: number,
  to: number,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let pos = from; pos < to; ) {
    const bytes = await readLog(q, taskId, runId, pos, to);
    if (bytes.length === 0) break;
    parts.push(bytes);
    pos += bytes.length;
  }
  return Buffer.concat(parts);
}
