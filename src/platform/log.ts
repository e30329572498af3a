import { type Logger, pino } from 'pino';

/** The root logger: JSON lines on stdout; child loggers add {service, taskId, ...}. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}
