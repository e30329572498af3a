import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  observeRequest(service: string, endpoint: string, status: number, seconds: number): void;
}

/** A Prometheus registry with the process metrics and Taskyard's request histogram. */
export function newMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Histogram({
    name: 'taskyard_api_request_duration_seconds',
    help: 'API request duration by service, endpoint and status code',
    labelNames: ['service', 'endpoint', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
    registers: [registry],
  });
  return {
    registry,
    observeRequest(service, endpoint, status, seconds) {
      requests.observe({ service, endpoint, status: String(status) }, seconds);
    },
  };
}
