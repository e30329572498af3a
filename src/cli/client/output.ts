/** Output for people (aligned tables, colour on a TTY) or for machines (`--json`). */
import pc from 'picocolors';

export interface OutputOptions {
  json?: boolean;
}

const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const colors = pc.createColors(useColor);

export const c = colors;

/** A task or run state, coloured by outcome. */
export function state(s: string): string {
  switch (s) {
    case 'completed':
      return colors.green(s);
    case 'failed':
      return colors.red(s);
    case 'exception':
      return colors.magenta(s);
    case 'running':
      return colors.cyan(s);
    case 'pending':
      return colors.yellow(s);
    default:
      return colors.dim(s);
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI colour codes
const ANSI = /\x1b\[[0-9;]*m/g;
const width = (s: string) => s.replace(ANSI, '').length;

/** Rows aligned in columns under a dimmed header. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i] - width(cell))))
      .join('  ')
      .trimEnd();
  return [colors.dim(line(header)), ...rows.map(line)].join('\n');
}

/** `key: value` lines with aligned values. */
export function fields(pairs: Array<[string, string | undefined]>): string {
  const shown = pairs.filter((p): p is [string, string] => p[1] !== undefined);
  const w = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${colors.dim(`${k}:`.padEnd(w + 1))} ${v}`).join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Progress and notes go to stderr, so stdout stays the data (a log, an artifact, JSON). */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** A short human time: "12s ago", "3m", ISO when far. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const ms = now - new Date(iso).getTime();
  const abs = Math.abs(ms);
  const unit =
    abs < 60_000
      ? `${Math.round(abs / 1000)}s`
      : abs < 3600_000
        ? `${Math.round(abs / 60_000)}m`
        : abs < 86400_000
          ? `${Math.round(abs / 3600_000)}h`
          : `${Math.round(abs / 86400_000)}d`;
  return ms >= 0 ? `${unit} ago` : `in ${unit}`;
}
