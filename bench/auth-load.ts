/**
 * One load-generating process of the auth benchmark (started by bench/auth.ts with fork, never
 * on its own). It runs `concurrency` lanes, each with one signed request in flight at a time, over
 * keep-alive connections to loopback, and sends back a LoadReport. Running apart from both the
 * orchestrator and the server keeps request signing and response parsing off the server's core.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Hawk from 'hawk';
import { newHistogram, record } from './histogram.ts';

export interface LoadPlan {
  worker: number;
  rootUrl: string;
  clientId: string;
  accessToken: string;
  /** Request paths, used in turn (a lane takes the next one for each request). */
  paths: string[];
  concurrency: number;
  /** Epoch milliseconds: load starts, measuring starts (after the warm-up), load stops. */
  startAt: number;
  measureFrom: number;
  endAt: number;
  /** Upper bound on requests this process sends, whatever the duration. */
  maxRequests: number;
  /** How long to wait for requests still in flight at endAt before giving up on them. */
  drainTimeoutMs: number;
}

export interface LoadReport {
  worker: number;
  /** Responses that completed inside the measuring window, and how many of those were 2xx. */
  requests: number;
  ok: number;
  warmupRequests: number;
  /** Non-2xx responses and transport errors over the whole run, warm-up included. */
  failures: number;
  statusCounts: Record<string, number>;
  failureSamples: string[];
  /** Response body bytes received inside the window. */
  bytes: number;
  /** Latency histogram (see histogram.ts) of the responses completed inside the window. */
  histogram: number[];
  /** CPU this process used during the window, in microseconds. */
  cpuUserMicros: number;
  cpuSystemMicros: number;
  /** Requests still unanswered when the drain timeout expired. */
  unfinished: number;
  hitMaxRequests: boolean;
}

const MAX_SAMPLES = 10;

async function run(plan: LoadPlan): Promise<LoadReport> {
  const base = new URL(plan.rootUrl);
  const host = base.hostname;
  const port = Number(base.port || 80);
  const credentials = { id: plan.clientId, key: plan.accessToken, algorithm: 'sha256' as const };
  // One socket per lane, kept open: reconnecting would measure TCP setup instead of auth.
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: plan.concurrency,
    maxFreeSockets: plan.concurrency,
  });
  const report: LoadReport = {
    worker: plan.worker,
    requests: 0,
    ok: 0,
    warmupRequests: 0,
    failures: 0,
    statusCounts: {},
    failureSamples: [],
    bytes: 0,
    histogram: newHistogram(),
    cpuUserMicros: 0,
    cpuSystemMicros: 0,
    unfinished: 0,
    hitMaxRequests: false,
  };
  let issued = 0;
  let inFlight = 0;

  const finish = (status: number, startedMs: number, bytes: number, failure: string | undefined) => {
    inFlight--;
    const now = Date.now();
    if (failure !== undefined) {
      report.failures++;
      if (report.failureSamples.length < MAX_SAMPLES) report.failureSamples.push(failure);
    }
    if (now < plan.measureFrom) {
      report.warmupRequests++;
      return;
    }
    if (now >= plan.endAt) return;
    report.requests++;
    report.statusCounts[status] = (report.statusCounts[status] ?? 0) + 1;
    if (failure === undefined) report.ok++;
    report.bytes += bytes;
    record(report.histogram, (performance.now() - startedMs) * 1000);
  };

  const once = (path: string): Promise<void> =>
    new Promise((resolve) => {
      // A fresh header for every request: the server refuses a nonce it has seen before.
      const { header } = Hawk.client.header(`${plan.rootUrl}${path}`, 'GET', { credentials });
      const started = performance.now();
      inFlight++;
      const req = http.request(
        { agent, host, port, path, method: 'GET', headers: { authorization: header } },
        (res) => {
          const status = res.statusCode ?? 0;
          const failed = status < 200 || status >= 300;
          let bytes = 0;
          let body = '';
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            // Only failures keep their body, and only its start: it says why the server refused.
            if (failed && body.length < 400) body += chunk.toString('utf8', 0, 400);
          });
          res.on('end', () => {
            finish(
              status,
              started,
              bytes,
              failed ? `${status} GET ${path}: ${body.slice(0, 400)}` : undefined,
            );
            resolve();
          });
          res.on('error', (err) => {
            finish(0, started, bytes, `response error on GET ${path}: ${err.message}`);
            resolve();
          });
        },
      );
      req.on('error', (err) => {
        finish(0, started, 0, `request error on GET ${path}: ${err.message}`);
        resolve();
      });
      req.end();
    });

  const lane = async () => {
    while (Date.now() < plan.endAt) {
      if (issued >= plan.maxRequests) {
        report.hitMaxRequests = true;
        return;
      }
      const path = plan.paths[issued % plan.paths.length];
      issued++;
      await once(path);
    }
  };

  // CPU over exactly the measuring window, to tell whether this process was the bottleneck.
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  const cpuStartTimer = setTimeout(
    () => {
      cpuAtStart = process.cpuUsage();
    },
    Math.max(0, plan.measureFrom - Date.now()),
  );
  const cpuEnd = new Promise<void>((resolve) => {
    setTimeout(
      () => {
        const used = process.cpuUsage(cpuAtStart);
        report.cpuUserMicros = used.user;
        report.cpuSystemMicros = used.system;
        resolve();
      },
      Math.max(0, plan.endAt - Date.now()),
    );
  });

  await sleep(Math.max(0, plan.startAt - Date.now()));
  const lanes = Promise.all(Array.from({ length: plan.concurrency }, lane));
  await cpuEnd;
  const drained = await Promise.race([lanes.then(() => true), sleep(plan.drainTimeoutMs, false)]);
  if (!drained) report.unfinished = inFlight;
  clearTimeout(cpuStartTimer);
  agent.destroy();
  return report;
}

process.on('message', (plan: LoadPlan) => {
  run(plan).then(
    (report) => process.send!({ type: 'report', report }, () => process.exit(0)),
    (err: unknown) => {
      process.send!({ type: 'error', message: (err as Error)?.stack ?? String(err) }, () => process.exit(1));
    },
  );
});
process.send!({ type: 'ready' });
