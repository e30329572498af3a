/** One command of a task, as an engine runs it. */
export interface CommandSpec {
  argv: string[];
  /** The task's environment only (the worker adds TASK_ID and the like before this). */
  env: Record<string, string>;
  /** Output as it comes, stdout and stderr interleaved. */
  onOutput(stream: 'stdout' | 'stderr', chunk: string): void;
  /** When it fires the command is killed (maxRunTime, shutdown). */
  signal: AbortSignal;
}

export interface CommandResult {
  /** null when killed by a signal. */
  exitCode: number | null;
  /** The signal that ended the command, if any. */
  killedBy?: string;
  durationMs: number;
  /** Peak resident memory of the command in KiB, when the engine could measure it. */
  peakRssKiB?: number;
  /** How it was measured (for the log footer). */
  rssSource?: string;
}

/** SIGTERM first, then SIGKILL after this long. */
export const KILL_GRACE_MS = 3_000;
