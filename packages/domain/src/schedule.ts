/**
 * Connector schedules: presets to cron (5 fields), validation, next runs, a description in words. Pure.
 * Validation parses the cron with cron-parser, the parser BullMQ's job schedulers use (same pinned
 * version), so a schedule accepted here is one the scheduler can run.
 */
import cronParser from 'cron-parser';

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const DAY_NAMES: Record<Weekday, string> = {
  sun: 'Sunday', mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday',
};

export type Schedule =
  | { enabled: boolean; kind: 'cron'; cron: string; timezone: string }
  | { enabled: boolean; kind: 'hourly'; minute: number; timezone: string }
  | { enabled: boolean; kind: 'daily'; time: string; timezone: string }
  | { enabled: boolean; kind: 'weekly'; day: Weekday; time: string; timezone: string };

/** The schedule field a ScheduleError is about. */
export type ScheduleField = 'cron' | 'minute' | 'time' | 'day' | 'timezone' | 'kind';

export class ScheduleError extends Error {
  readonly code = 'SCHEDULE_INVALID';
  constructor(
    message: string,
    readonly field: ScheduleField,
  ) {
    super(message);
    this.name = 'ScheduleError';
  }
}

/** At most this many runs from nextRuns(): a preview, not a calendar. */
export const MAX_NEXT_RUNS = 1000;

function hhmm(time: string): { h: number; m: number } {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(time.trim());
  if (!m) throw new ScheduleError(`time must be HH:MM (24h), got "${time}"`, 'time');
  return { h: Number(m[1]), m: Number(m[2]) };
}

export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function pattern(s: Schedule): string {
  if (!isValidTimezone(s.timezone)) throw new ScheduleError(`unknown time zone "${s.timezone}"`, 'timezone');
  switch (s.kind) {
    case 'cron': {
      const fields = s.cron.trim().split(/\s+/);
      // 5 fields, or 6 with seconds first (BullMQ's cron parser reads both)
      if (fields.length < 5 || fields.length > 6) {
        throw new ScheduleError(`cron must have 5 fields (minute hour day month weekday) or 6 (seconds first), got "${s.cron}"`, 'cron');
      }
      return fields.join(' ');
    }
    case 'hourly':
      if (!Number.isInteger(s.minute) || s.minute < 0 || s.minute > 59) throw new ScheduleError('minute must be 0-59', 'minute');
      return `${s.minute} * * * *`;
    case 'daily': {
      const { h, m } = hhmm(s.time);
      return `${m} ${h} * * *`;
    }
    case 'weekly': {
      const { h, m } = hhmm(s.time);
      const d = WEEKDAYS.indexOf(s.day);
      if (d < 0) throw new ScheduleError(`day must be one of ${WEEKDAYS.join(', ')}`, 'day');
      return `${m} ${h} * * ${d}`;
    }
    default:
      throw new ScheduleError(`kind must be one of cron, hourly, daily, weekly`, 'kind');
  }
}

/** The parser's iterator over a schedule's runs after `from`; throws ScheduleError with the parser's message. */
function runs(s: Schedule, from: Date) {
  const cron = pattern(s);
  try {
    const it = cronParser.parseExpression(cron, { currentDate: from, tz: s.timezone });
    return { cron, next: () => it.next().toDate() };
  } catch (err) {
    throw new ScheduleError(`invalid cron "${cron}": ${(err as Error).message}`, 'cron');
  }
}

function nextOf(next: () => Date, cron: string): Date {
  try {
    return next();
  } catch (err) {
    // a valid-looking pattern that never fires (e.g. "0 0 30 2 *") fails here, not when parsed
    throw new ScheduleError(`invalid cron "${cron}": ${(err as Error).message}`, 'cron');
  }
}

/**
 * The cron pattern of a valid schedule (5 fields: minute hour day-of-month month day-of-week; or 6,
 * seconds first): checked by the scheduler's parser, which must find a next run. Throws ScheduleError
 * naming the field.
 */
export function validateSchedule(s: Schedule): string {
  const { cron, next } = runs(s, new Date());
  nextOf(next, cron);
  return cron;
}

/** The cron pattern of a schedule; the same as validateSchedule. */
export const scheduleToCron = validateSchedule;

/** The next `count` runs of a schedule after `from` (now by default), as the scheduler would fire them. */
export function nextRuns(s: Schedule, count: number, from: Date = new Date()): Date[] {
  if (!Number.isInteger(count) || count < 0 || count > MAX_NEXT_RUNS) throw new RangeError(`count must be an integer 0-${MAX_NEXT_RUNS}`);
  const { cron, next } = runs(s, from);
  const out: Date[] = [];
  for (let i = 0; i < count; i++) out.push(nextOf(next, cron));
  return out;
}

/** A schedule in words, e.g. "daily at 02:00 (Europe/Paris)"; a disabled one says so. */
export function describeSchedule(s: Schedule): string {
  const words = (() => {
    switch (s.kind) {
      case 'hourly':
        return `hourly at minute ${s.minute}`;
      case 'daily':
        return `daily at ${s.time}`;
      case 'weekly':
        return `weekly on ${DAY_NAMES[s.day] ?? s.day} at ${s.time}`;
      case 'cron':
        return `cron "${s.cron.trim().split(/\s+/).join(' ')}"`;
      default:
        return 'unknown schedule';
    }
  })();
  return `${s.enabled ? '' : 'disabled: '}${words} (${s.timezone})`;
}
