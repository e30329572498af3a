import pino from 'pino';
import slugid from 'slugid';
import taskcluster from 'taskcluster-client';
import { buildApiServer } from '../../../src/platform/api/server.ts';
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
  stop(): Promise<void>;
}

/**
 * A test Taskyard (auth, queue) and, until the hooks service is wired into the server, a hooks
 * server of its own beside it, authenticating through the Taskyard's auth service and creating
 * tasks in its queue.
 */
export async function startHooksTestbed(): Promise<HooksTestbed> {
  const root = { clientId: 'static/taskcluster/root', accessToken: slugid.v4() + slugid.v4() };
  const hooksClient = { clientId: HOOKS_CLIENT_ID, accessToken: slugid.v4() + slugid.v4(), scopes: ['*'] };
  const queueClient = {
    clientId: 'static/taskcluster/queue',
    accessToken: slugid.v4() + slugid.v4(),
    scopes: ['*'],
  };
  const ty = await startTestTaskyard({
    services: ['auth', 'queue'],
    config: { staticClients: [{ ...root, scopes: ['*'] }, queueClient, hooksClient] },
  });
  const service = createHooksService({
    config: { ...ty.config, rootUrl: ty.rootUrl },
    database: ty.testDb.db,
    bus: ty.bus,
    logger: pino({ level: 'silent' }),
    now: () => ty.clock.now,
    rootUrl: () => ty.rootUrl,
    backgroundLoops: false,
  });
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
    async stop() {
      await service.stop();
      await app.close();
      await ty.stop();
    },
  };
}
