import pino from 'pino';
import slugid from 'slugid';
import { type Config, configDefaults } from '../../src/platform/config.ts';
import { InProcessBus } from '../../src/platform/events/index.ts';
import { createTaskyard, type ServiceName, type Taskyard } from '../../src/server.ts';
import { TokenCipher } from '../../src/services/auth/token-crypto.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestTaskyard {
  taskyard: Taskyard;
  rootUrl: string;
  /** Credentials of the static root client (scope `*`). */
  root: { clientId: string; accessToken: string };
  testDb: TestDatabase;
  bus: InProcessBus;
  /** Moves the injected clock. */
  clock: { now: Date; advance(ms: number): void };
  stop(): Promise<void>;
}

/** A Taskyard on its own database, listening on a free loopback port, with a settable clock. */
export async function startTestTaskyard(
  opts: { services?: ServiceName[]; config?: Partial<Config>; realClock?: boolean } = {},
): Promise<TestTaskyard> {
  const testDb = await createTestDatabase();
  const bus = new InProcessBus();
  const root = { clientId: 'static/taskcluster/root', accessToken: slugid.v4() + slugid.v4() };
  const clock = {
    offsetMs: 0,
    get now() {
      return new Date(Date.now() + this.offsetMs);
    },
    advance(ms: number) {
      this.offsetMs += ms;
    },
  };
  const config: Config = {
    ...configDefaults,
    port: 0,
    host: '127.0.0.1',
    accessTokenKey: TokenCipher.generateKey(),
    staticClients: [{ ...root, scopes: ['*'] }],
    logLevel: 'silent',
    ...opts.config,
  };
  const taskyard = await createTaskyard({
    config,
    services: opts.services ?? ['auth'],
    database: testDb.db,
    bus,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    now: opts.realClock ? undefined : () => clock.now,
    validateOutput: true,
  });
  const rootUrl = await taskyard.listen();
  return {
    taskyard,
    rootUrl,
    root,
    testDb,
    bus,
    clock,
    async stop() {
      await taskyard.stop();
      await bus.close();
      await testDb.drop();
    },
  };
}
