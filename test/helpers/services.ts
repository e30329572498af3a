import { describe } from 'vitest';

/** RabbitMQ for the AMQP suites; unset means those suites are skipped (never in CI, see global setup). */
export function amqpUrl(): string | undefined {
  return process.env.TASKYARD_TEST_AMQP_URL || undefined;
}

/** External PostgreSQL server; unset means the global setup runs an embedded one. */
export function externalDatabaseUrl(): string | undefined {
  return process.env.TASKYARD_TEST_DATABASE_URL || undefined;
}

/** CI sets this so that a suite can never pass by being skipped. */
export function servicesRequired(): boolean {
  return process.env.TASKYARD_REQUIRE_SERVICES === '1';
}

/** `describe` when RabbitMQ is configured, `describe.skip` otherwise. */
export function describeAmqp(name: string, fn: () => void): void {
  if (amqpUrl()) {
    describe(name, fn);
  } else {
    describe.skip(name, fn);
  }
}
