/**
 * The HTTP floor's server (forked by bench/queue-floor.ts, never run on its own): Fastify on a
 * loopback port that checks each request's Hawk header and payload hash against one fixed
 * credential, refuses replayed nonces, parses the JSON body and answers with a task-status-sized
 * JSON body. Nothing else: what any server of this API pays per request before doing its work.
 */
import Fastify from 'fastify';
import Hawk from 'hawk';

const id = process.env.FLOOR_CLIENT_ID ?? 'floor';
const key = process.env.FLOOR_ACCESS_TOKEN ?? '';
const credentials = { id, key, algorithm: 'sha256' as const };
const seen = new Set<string>();

const app = Fastify({ logger: false });
app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
  (req as unknown as { rawBody: string }).rawBody = body as string;
  try {
    done(null, body === '' ? undefined : JSON.parse(body as string));
  } catch (err) {
    done(err as Error, undefined);
  }
});

const answer = (taskId: string) => ({
  status: {
    taskId,
    provisionerId: 'floor',
    workerType: 'floor',
    taskQueueId: 'floor/floor',
    schedulerId: 'taskyard-bench',
    projectId: 'none',
    taskGroupId: taskId,
    deadline: new Date(Date.now() + 3600_000).toJSON(),
    expires: new Date(Date.now() + 7200_000).toJSON(),
    retriesLeft: 5,
    state: 'pending',
    runs: [{ runId: 0, state: 'pending', reasonCreated: 'scheduled', scheduled: new Date().toJSON() }],
  },
});

app.route({
  method: ['PUT', 'POST'],
  url: '/api/queue/v1/*',
  handler: async (request, reply) => {
    const rawBody = (request as unknown as { rawBody?: string }).rawBody;
    try {
      const req = {
        method: request.method,
        url: request.url,
        headers: request.headers as Record<string, string | undefined>,
      };
      await Hawk.server.authenticate(req, async () => credentials, {
        ...(rawBody !== undefined ? { payload: rawBody } : {}),
        nonceFunc: async (_key: string, nonce: string) => {
          if (seen.has(nonce)) throw new Error('replayed nonce');
          seen.add(nonce);
          if (seen.size > 100_000) seen.clear();
        },
      });
    } catch (err) {
      return reply.code(401).send({ code: 'AuthenticationFailed', message: (err as Error).message });
    }
    const params = request.params as { '*': string };
    return answer(params['*'].split('/')[1] ?? 'none');
  },
});

const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.send?.({ type: 'ready', rootUrl: address });
process.on('disconnect', () => {
  void app.close().then(() => process.exit(0));
});
