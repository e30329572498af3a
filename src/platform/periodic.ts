import type { Logger } from 'pino';

/**
 * Runs `pass` now and then every `intervalMs`, never two at once (a tick that finds one running is
 * skipped). A pass that throws is logged and tried again at the next tick. The timer does not keep
 * the process alive. Returns what stops it: no new pass starts, and one in progress is awaited.
 */
export function startPeriodic(opts: {
  /** What the pass does, for the log: "index expiry". */
  name: string;
  intervalMs: number;
  logger: Logger;
  pass: () => Promise<unknown>;
}): () => Promise<void> {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped || running) return;
    running = opts
      .pass()
      .then(
        () => undefined,
        (err) => opts.logger.error({ err }, `${opts.name} failed; retrying on its next tick`),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, opts.intervalMs);
  timer.unref();
  tick();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
