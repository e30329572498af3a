/**
 * 6. The machine's own PostgreSQL write limit: `pgbench -i` in a throwaway database on the same
 * server, then a write-only (`-N`) run with durable commits and as many clients as the benchmark
 * keeps requests in flight. Every throughput of the queue benchmark is also shown against it.
 */
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { createDatabase } from './harness.ts';

export interface PgbenchResult {
  tps: number;
  latencyMs: number;
  clients: number;
  seconds: number;
  scaleFactor: number;
  settings: Record<string, string>;
  notes: string[];
}

export async function runPgbench(opts: {
  adminUrl: string;
  clients: number;
  seconds: number;
  scaleFactor: number;
  log(line: string): void;
}): Promise<PgbenchResult> {
  const check = spawnSync('pgbench', ['--version'], { encoding: 'utf8' });
  if (check.status !== 0)
    throw new Error('pgbench is not installed (it comes with the PostgreSQL client tools)');
  const database = await createDatabase(opts.adminUrl);
  try {
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    const settings: Record<string, string> = {};
    try {
      for (const name of [
        'server_version',
        'fsync',
        'synchronous_commit',
        'wal_sync_method',
        'max_connections',
      ]) {
        settings[name] = (await admin.query(`show ${name}`)).rows[0][name];
      }
    } finally {
      await admin.end();
    }
    const notes: string[] = [];
    if (settings.fsync !== 'on')
      notes.push(`pgbench: the server runs with fsync=${settings.fsync}: commits are not durable`);
    // Durable commits whatever the server's default: the queue's own sessions commit the same way.
    const env = { ...process.env, PGOPTIONS: '-c synchronous_commit=on' };
    opts.log(`pgbench: initialising scale ${opts.scaleFactor} in ${database.name}`);
    const init = spawnSync('pgbench', ['-i', '-q', '-s', String(opts.scaleFactor), database.url], {
      env,
      encoding: 'utf8',
    });
    if (init.status !== 0) throw new Error(`pgbench -i failed (exit ${init.status}):\n${init.stderr}`);
    opts.log(`pgbench: -N with ${opts.clients} clients for ${opts.seconds} s`);
    const jobs = Math.max(1, Math.min(opts.clients, 2));
    const run = spawnSync(
      'pgbench',
      ['-N', '-c', String(opts.clients), '-j', String(jobs), '-T', String(opts.seconds), database.url],
      { env, encoding: 'utf8' },
    );
    if (run.status !== 0)
      throw new Error(`pgbench -N failed (exit ${run.status}):\n${run.stderr}${run.stdout}`);
    const tps = /tps = ([\d.]+)/.exec(run.stdout);
    const latency = /latency average = ([\d.]+) ms/.exec(run.stdout);
    if (!tps) throw new Error(`pgbench printed no tps:\n${run.stdout}`);
    return {
      tps: Number(tps[1]),
      latencyMs: latency ? Number(latency[1]) : Number.NaN,
      clients: opts.clients,
      seconds: opts.seconds,
      scaleFactor: opts.scaleFactor,
      settings,
      notes,
    };
  } finally {
    await database.drop();
  }
}
