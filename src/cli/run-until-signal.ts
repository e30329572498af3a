/**
 * Keeps the process up until SIGINT or SIGTERM, then runs `stop` once and exits 0. A second
 * signal while stopping exits at once with 1 (the user insisted).
 */
export function runUntilSignal(stop: () => Promise<void>, log: (line: string) => void): void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) {
      log(`${signal} again: exiting without a clean stop`);
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: stopping...`);
    stop().then(
      () => {
        log('stopped');
        process.exit(0);
      },
      (err) => {
        console.error('taskyard: stopping failed:', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}
