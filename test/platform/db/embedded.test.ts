import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../../src/platform/db/embedded.ts';

let dir: string | undefined;

afterAll(async () => {
  if (dir) {
    await rm(dir, { recursive: true, force: true });
  }
});

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// One test on purpose: every step needs a real server start.
it('keeps data across stop and restart, and is not blocked by a stale postmaster.pid', async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskyard-embedded-'));
  await chmod(dir, 0o755); // the server runs as `postgres` when we are root
  const dataDir = join(dir, 'data');

  const first = await startEmbeddedPostgres({ dataDir });
  expect(first.timings.initMs).toBeGreaterThan(0);
  expect(first.url).toMatch(/\/taskyard$/);
  await withClient(first.url, async (c) => {
    await c.query('CREATE TABLE kept (v text)');
    await c.query(`INSERT INTO kept VALUES ('survives')`);
  });
  await first.stop();

  // Simulate a crash that left a pid file behind whose pid now belongs to an unrelated live process.
  await writeFile(join(dataDir, 'postmaster.pid'), `${process.pid}\n${dataDir}\n`);

  const second = await startEmbeddedPostgres({ dataDir });
  try {
    expect(second.timings.initMs).toBeNull();
    const rows = await withClient(second.url, (c) => c.query<{ v: string }>('SELECT v FROM kept'));
    expect(rows.rows).toEqual([{ v: 'survives' }]);
    // A second server on the same directory is refused with a clear message.
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(/is still running on/);
  } finally {
    await second.stop();
  }
});
