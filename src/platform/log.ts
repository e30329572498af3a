import { type Logger, pino } from 'pino';

/**
 * Errors are logged with pino's serializer, minus `client`: node-postgres attaches its whole
 * connection object to errors, kilobytes of noise per line.
 */
function serializeError(err: Error): Record<string, unknown> {
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  delete out.client;
  return out;
}

/** The root logger: JSON lines on stdout; child loggers add {service, taskId, ...}. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError },
  });
}
