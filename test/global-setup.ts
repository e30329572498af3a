import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../src/platform/db/embedded.ts';
import './helpers/provided.ts';
import { amqpUrl, externalDatabaseUrl, servicesRequired } from './helpers/services.ts';
import { prepareTemplate } from './helpers/template.ts';

async function checkPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`TASKYARD_TEST_DATABASE_URL is unreachable: ${(err as Error).message}`, { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkAmqp(url: string): Promise<void> {
  try {
    const conn = await amqp.connect(url);
    await conn.close();
  } catch (err) {
    throw new Error(`TASKYARD_TEST_AMQP_URL is unreachable: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * With TASKYARD_REQUIRE_SERVICES=1 (CI) a missing or unreachable service is
 * a failure, so suites that need it cannot silently be skipped.
 */
async function checkRequiredServices(): Promise<void> {
  const dbUrl = externalDatabaseUrl();
  const mqUrl = amqpUrl();
  const missing = [!dbUrl && 'TASKYARD_TEST_DATABASE_URL', !mqUrl && 'TASKYARD_TEST_AMQP_URL'].filter(
    Boolean,
  );
  if (missing.length > 0) {
    throw new Error(`TASKYARD_REQUIRE_SERVICES=1 but ${missing.join(' and ')} not set`);
  }
  await Promise.all([checkPostgres(dbUrl!), checkAmqp(mqUrl!)]);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cleanups: Array<() => Promise<void>> = [];
  if (servicesRequired()) {
    await checkRequiredServices();
  }
  let adminUrl = externalDatabaseUrl();
  if (!adminUrl) {
    const dir = await mkdtemp(join(tmpdir(), 'taskyard-test-pg-'));
    // mkdtemp makes it 0700; as root the server runs as `postgres`, which must be able to enter it.
    await chmod(dir, 0o755);
    const started = performance.now();
    const embedded = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), database: 'postgres' });
    const ms = Math.round(performance.now() - started);
    console.log(
      `embedded PostgreSQL on port ${embedded.port} ready in ${ms} ms (initdb ${embedded.timings.initMs} ms)`,
    );
    cleanups.push(async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    });
    adminUrl = embedded.urlFor('postgres');
  }
  try {
    const template = await prepareTemplate(adminUrl);
    project.provide('taskyardAdminDatabaseUrl', adminUrl);
    project.provide('taskyardTemplateDatabase', template);
  } catch (err) {
    for (const cleanup of cleanups.reverse()) {
      await cleanup();
    }
    throw err;
  }
  return async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup();
    }
  };
}
