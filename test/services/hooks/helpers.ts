import pino from 'pino';
import slugid from 'slugid';
import taskcluster from 'taskcluster-client';
import { buildApiServer } from '../../../src/platform/api/server.ts';
import type { Config } from '../../../src/platform/config.ts';
import type { EventBus } from '../../../src/platform/events/index.ts';
import { RemoteAuthenticator } from '../../../src/services/auth/remote-authenticator.ts';
import { createHooksService, HOOKS_CLIENT_ID, type HooksService } from '../../../src/services/hooks/index.ts';
import { startTestTaskyard, type TestTaskyard } from '../../helpers/taskyard.ts';

// biome-ignore lint/suspicious/noExplicitAny: the official client is untyped
type Untyped = any;

export interface HooksTestbed {
  ty: TestTaskyard;
  hooksRootUrl: string;
  service: HooksService;
  hooks(credentials?: { clientId: string; accessToken: string }): Untyped;
  queue(): Untyped;
  /**
   * Another hooks service instance on the same database (as another process would be); stopped
   * with the testbed. `rootUrl` is where it finds the queue and notify (default the Taskyard).
   */
  addService(opts?: { backgroundLoops?: boolean; bus?: EventBus; rootUrl?: string }): Promise<HooksService>;
  stop(): Promise<void>;
}

/**
 * A test Taskyard (auth, queue) and a hooks server of its own beside it (so tests hold the hooks
 * service object), authenticating through the Taskyard's auth service and creating tasks in its
 * queue. The Taskyard's outbox relay publishes the hooks' events on `bus`.
 */
export async function startHooksTestbed(
  opts: { bus?: EventBus; backgroundLoops?: boolean; withNotify?: Partial<Config> } = {},
): Promise<HooksTestbed> {
  const root = { clientId: 'static/taskcluster/root', accessToken: slugid.v4() + slugid.v4() };
  const hooksClient = { clientId: HOOKS_CLIENT_ID, accessToken: slugid.v4() + slugid.v4(), scopes: ['*'] };
  const queueClient = {
    clientId: 'static/taskcluster/queue',
    accessToken: slugid.v4() + slugid.v4(),
    scopes: ['*'],
  };
  const ty = await startTestTaskyard({
    services: opts.withNotify ? ['auth', 'queue', 'notify'] : ['auth', 'queue'],
    config: { staticClients: [{ ...root, scopes: ['*'] }, queueClient, hooksClient], ...opts.withNotify },
    bus: opts.bus,
  });
  const extra: HooksService[] = [];
  const makeService = (o: { backgroundLoops?: boolean; bus?: EventBus; rootUrl?: string }) =>
    createHooksService({
      config: { ...ty.config, rootUrl: ty.rootUrl },
      database: ty.testDb.db,
      bus: o.bus ?? ty.bus,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      now: () => ty.clock.now,
      rootUrl: () => o.rootUrl ?? ty.rootUrl,
      backgroundLoops: o.backgroundLoops ?? false,
    });
  const service = makeService({ backgroundLoops: opts.backgroundLoops });
  await service.start();
  const app = buildApiServer({
    services: [{ api: service.api }],
    authenticator: new RemoteAuthenticator(ty.rootUrl),
    logger: pino({ level: 'silent' }),
    rootUrl: () => hooksRootUrl,
    trustProxy: false,
    maxRequestBytes: 10 * 1024 * 1024,
    validateOutput: true,
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const hooksRootUrl = address;
  return {
    ty,
    hooksRootUrl,
    service,
    hooks: (credentials = root) => new taskcluster.Hooks({ rootUrl: hooksRootUrl, credentials, retries: 0 }),
    queue: () => new taskcluster.Queue({ rootUrl: ty.rootUrl, credentials: ty.root, retries: 0 }),
    async addService(o = {}) {
      const s = makeService(o);
      await s.start();
      extra.push(s);
      return s;
    },
    async stop() {
      for (const s of extra) await s.stop();
      await service.stop();
      await app.close();
      await ty.stop();
    },
  };
}

/** A hook role with the scopes the test templates need. */
export async function createHookRole(tb: HooksTestbed, pattern = 'hook-id:tests/*'): Promise<void> {
  const auth = new taskcluster.Auth({ rootUrl: tb.ty.rootUrl, credentials: tb.ty.root, retries: 0 });
  await auth.createRole(pattern, {
    description: 'test hooks',
    scopes: [
      'queue:create-task:highest:test-prov/*',
      'queue:scheduler-id:test-sched',
      'queue:create-task:project:none',
    ],
  });
}

/** A template creating a task whose payload shows the JSON-e context. */
export const echoTemplate = {
  taskQueueId: 'test-prov/hooked',
  schedulerId: 'test-sched',
  created: { $eval: 'now' },
  deadline: { $fromNow: '1 hour', from: { $eval: 'now' } },
  payload: { firedBy: { $eval: 'firedBy' }, payload: { $eval: 'payload' }, taskId: { $eval: 'taskId' } },
  metadata: { name: 'hooked', description: 'd', owner: 'o@example.com', source: 'https://example.com' },
};

export const echoHook = (over: Record<string, unknown> = {}) => ({
  metadata: { name: 'h', description: 'a hook', owner: 'owner@example.com' },
  task: echoTemplate,
  triggerSchema: { type: 'object' },
  ...over,
});
