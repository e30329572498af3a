import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import slugid from 'slugid';
import { type Config, configDefaults } from '../../src/platform/config.ts';
import { type EventBus, InProcessBus } from '../../src/platform/events/index.ts';
import {
  createTaskyard,
  HOOKS_CLIENT_SCOPES,
  SERVICE_NAMES,
  type ServiceName,
  type Taskyard,
} from '../../src/server.ts';
import { TokenCipher } from '../../src/services/auth/token-crypto.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestTaskyard {
  taskyard: Taskyard;
  rootUrl: string;
  /** Credentials of the static root client (scope `*`). */
  root: { clientId: string; accessToken: string };
  testDb: TestDatabase;
  config: Config;
  bus: EventBus;
  /** Moves the injected clock. */
  clock: { now: Date; advance(ms: number): void };
  stop(): Promise<void>;
}

/** A Taskyard on its own database, listening on a free loopback port, with a settable clock. */
export async function startTestTaskyard(
  opts: {
    services?: ServiceName[];
    config?: Partial<Config>;
    realClock?: boolean;
    bus?: EventBus;
    database?: TestDatabase;
    /** Run the background loops (default true); without them tests run each pass themselves. */
    backgroundLoops?: boolean;
  } = {},
): Promise<TestTaskyard> {
  const testDb = opts.database ?? (await createTestDatabase());
  const bus = opts.bus ?? new InProcessBus();
  const root = opts.config?.staticClients?.[0] ?? {
    clientId: 'static/taskcluster/root',
    accessToken: slugid.v4() + slugid.v4(),
  };
  const clock = {
    offsetMs: 0,
    get now() {
      return new Date(Date.now() + this.offsetMs);
    },
    advance(ms: number) {
      this.offsetMs += ms;
    },
  };
  // Artifacts go to a filesystem blob store in a temporary directory, unless the test picks one.
  const blobRoot = opts.config?.blobStore ? undefined : await mkdtemp(join(tmpdir(), 'taskyard-blobs-'));
  const config: Config = {
    ...configDefaults,
    ...(blobRoot
      ? { blobStore: 'filesystem', blobRoot, blobSecret: randomBytes(32).toString('base64') }
      : {}),
    port: 0,
    host: '127.0.0.1',
    accessTokenKey: TokenCipher.generateKey(),
    secretsKey: TokenCipher.generateKey(),
    staticClients: [
      { ...root, scopes: ['*'] },
      { clientId: 'static/taskcluster/queue', accessToken: slugid.v4() + slugid.v4(), scopes: ['*'] },
      {
        clientId: 'static/taskcluster/hooks',
        accessToken: slugid.v4() + slugid.v4(),
        scopes: HOOKS_CLIENT_SCOPES,
      },
    ],
    logLevel: 'silent',
    ...opts.config,
  };
  const taskyard = await createTaskyard({
    config,
    services: opts.services ?? [...SERVICE_NAMES],
    database: testDb.db,
    bus,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    now: opts.realClock ? undefined : () => clock.now,
    validateOutput: true,
    backgroundLoops: opts.backgroundLoops,
  });
  const rootUrl = await taskyard.listen();
  return {
    taskyard,
    rootUrl,
    root,
    testDb,
    config,
    bus,
    clock,
    async stop() {
      await taskyard.stop();
      if (!opts.bus) await bus.close();
      if (!opts.database) await testDb.drop();
      if (blobRoot) await rm(blobRoot, { recursive: true, force: true });
    },
  };
}
