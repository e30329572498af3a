/** Cron schedules of hooks: six fields with seconds, or five without, always in UTC. */
import { CronExpressionParser } from 'cron-parser';

/** The first time strictly after `after` of any of the cron schedules, or null when there are none. */
export function nextDate(schedule: string[], after: Date): Date | null {
  let best: Date | null = null;
  for (const s of schedule) {
    const d = CronExpressionParser.parse(s, { currentDate: after, tz: 'UTC' }).next().toDate();
    if (!best || d < best) best = d;
  }
  return best;
}

/** Why a schedule entry is unusable, or undefined when it is fine. */
export function scheduleEntryProblem(entry: string): string | undefined {
  if (entry.trim() === '') return 'it is empty';
  try {
    CronExpressionParser.parse(entry, { tz: 'UTC' }).next();
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}
