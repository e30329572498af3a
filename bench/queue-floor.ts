/**
 * 7. The HTTP floor: what one Hawk-signed JSON request costs on this machine before any queue
 * work, client and server together. A bare Fastify server (bench/queue-floor-server.ts, its own
 * process) checks the Hawk header and payload hash and answers with a task-status-sized body; this
 * process sends it createTask-shaped requests with QueueHttp, as the load generators do, with
 * `concurrency` in flight. The CPU both processes used, per request, bounds every throughput that
 * goes through the API: a task's lifecycle takes three requests (createTask, claimWork,
 * reportCompleted), so the machine's cores over three floors is as many lifecycles per second as
 * it could serve if the queue itself, PostgreSQL and RabbitMQ cost nothing.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { procCpuSeconds, repoRoot, stopChild } from './harness.ts';
import { newTaskId, QueueHttp, taskDefinition } from './queue-http.ts';
import type { Figure, ScenarioResult } from './queue-kit.ts';

export async function runHttpFloor(opts: {
  concurrency: number;
  seconds: number;
  log(line: string): void;
}): Promise<ScenarioResult> {
  const credentials = { clientId: 'floor', accessToken: randomBytes(33).toString('base64url') };
  const child = fork(join(repoRoot, 'bench', 'queue-floor-server.ts'), [], {
    cwd: repoRoot,
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      FLOOR_CLIENT_ID: credentials.clientId,
      FLOOR_ACCESS_TOKEN: credentials.accessToken,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const rootUrl = await new Promise<string>((resolve, reject) => {
      child.once('message', (m: { type: string; rootUrl: string }) => resolve(m.rootUrl));
      child.once('exit', (code, signal) => reject(new Error(`the floor server ended (${signal ?? code})`)));
    });
    const http = new QueueHttp(rootUrl, credentials, opts.concurrency);
    try {
      const send = async () => {
        const taskId = newTaskId();
        await http.ok('PUT', `/task/${taskId}`, taskDefinition({ taskQueueId: 'floor/floor' }));
      };
      // Warm up both processes (JIT, connections) before measuring.
      const warmUntil = Date.now() + 1000;
      await Promise.all(
        Array.from({ length: opts.concurrency }, async () => {
          while (Date.now() < warmUntil) await send();
        }),
      );
      opts.log(`HTTP floor: ${opts.concurrency} requests in flight for ${opts.seconds} s`);
      const serverBefore = procCpuSeconds(child.pid!) ?? Number.NaN;
      const clientBefore = process.cpuUsage();
      const started = Date.now();
      const until = started + opts.seconds * 1000;
      let requests = 0;
      await Promise.all(
        Array.from({ length: opts.concurrency }, async () => {
          while (Date.now() < until) {
            await send();
            requests++;
          }
        }),
      );
      const elapsed = (Date.now() - started) / 1000;
      const client = process.cpuUsage(clientBefore);
      const serverSeconds = (procCpuSeconds(child.pid!) ?? Number.NaN) - serverBefore;
      const clientMicros = (client.user + client.system) / requests;
      const serverMicros = (serverSeconds * 1e6) / requests;
      const both = clientMicros + serverMicros;
      const cores = cpus().length;
      const figures: Figure[] = [
        { name: 'HTTP floor, requests/s', value: requests / elapsed, unit: 'req/s' },
        { name: 'HTTP floor, client CPU per request', value: clientMicros, unit: 'µs' },
        { name: 'HTTP floor, server CPU per request', value: serverMicros, unit: 'µs' },
        { name: `→ createTask ceiling (${cores} cores)`, value: (cores * 1e6) / both, unit: 'tasks/s' },
        { name: `→ lifecycle ceiling (${cores} cores)`, value: (cores * 1e6) / (3 * both), unit: 'tasks/s' },
      ];
      return {
        figures,
        notes: [
          'floor: a bare Fastify server checking Hawk; the ceilings are what the machine could do with HTTP alone (no queue, PostgreSQL or RabbitMQ work)',
        ],
        details: { requests, seconds: elapsed, clientMicros, serverMicros, cores },
      };
    } finally {
      http.destroy();
    }
  } finally {
    await stopChild(child);
  }
}
