/**
 * What a schedule means to a person: its next run times and a sentence. The times come from BullMQ's
 * own repeat strategy (cron-parser, with the time zone), the one the scheduler's job schedulers use,
 * so the preview cannot disagree with when syncs really start.
 */
import { defaultRepeatStrategy } from 'bullmq';
import { scheduleToCron, type Schedule, type Weekday } from '@qpc/domain';

const DAY_NAMES: Record<Weekday, string> = {
  mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday',
};

export class SchedulePreviewError extends Error {
  readonly code = 'SCHEDULE_INVALID';
}

/** The next `n` start times after `from` (ISO); throws SchedulePreviewError with the parser's message. */
export function nextRunTimes(s: Schedule, n = 3, from = new Date()): string[] {
  let pattern: string;
  try {
    pattern = scheduleToCron(s);
  } catch (err) {
    throw new SchedulePreviewError((err as Error).message);
  }
  const out: string[] = [];
  let t = from.getTime();
  for (let i = 0; i < n; i++) {
    let next: number | undefined;
    try {
      next = defaultRepeatStrategy(t, { pattern, tz: s.timezone });
    } catch (err) {
      throw new SchedulePreviewError(`cron "${pattern}": ${(err as Error).message}`);
    }
    if (next === undefined || !Number.isFinite(next)) break;
    out.push(new Date(next).toISOString());
    t = next;
  }
  return out;
}

/** "daily at 02:00 (UTC)"; on-demand connectors say so. */
export function scheduleText(s: Schedule | null): string {
  if (!s) return 'on demand only';
  const tz = `(${s.timezone})`;
  let text: string;
  switch (s.kind) {
    case 'hourly':
      text = `hourly at minute ${String(s.minute).padStart(2, '0')} ${tz}`;
      break;
    case 'daily':
      text = `daily at ${s.time} ${tz}`;
      break;
    case 'weekly':
      text = `weekly on ${DAY_NAMES[s.day]} at ${s.time} ${tz}`;
      break;
    case 'cron':
      text = `cron "${s.cron.trim()}" ${tz}`;
      break;
  }
  return s.enabled ? text : `on demand only (schedule ${text} is disabled)`;
}

/** Next runs of a connector: none when it has no enabled schedule (or a schedule the scheduler ignores as invalid). */
export function connectorNextRuns(s: Schedule | null, now = new Date()): string[] {
  if (!s || !s.enabled) return [];
  try {
    return nextRunTimes(s, 3, now);
  } catch {
    return [];
  }
}
