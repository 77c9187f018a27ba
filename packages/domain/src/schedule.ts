/** Connector schedules: presets to cron (5 fields), validation. Pure. */

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export type Schedule =
  | { enabled: boolean; kind: 'cron'; cron: string; timezone: string }
  | { enabled: boolean; kind: 'hourly'; minute: number; timezone: string }
  | { enabled: boolean; kind: 'daily'; time: string; timezone: string }
  | { enabled: boolean; kind: 'weekly'; day: Weekday; time: string; timezone: string };

export class ScheduleError extends Error {
  readonly code = 'SCHEDULE_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

function hhmm(time: string): { h: number; m: number } {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(time.trim());
  if (!m) throw new ScheduleError(`time must be HH:MM (24h), got "${time}"`);
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

/** The cron pattern of a schedule (5 fields: minute hour day-of-month month day-of-week; or 6, seconds first). */
export function scheduleToCron(s: Schedule): string {
  if (!isValidTimezone(s.timezone)) throw new ScheduleError(`unknown time zone "${s.timezone}"`);
  switch (s.kind) {
    case 'cron': {
      const fields = s.cron.trim().split(/\s+/);
      // 5 fields, or 6 with seconds first (BullMQ's cron parser reads both)
      if (fields.length < 5 || fields.length > 6 || !fields.every((f) => /^[\d*,/\-A-Za-z?LW#]+$/.test(f))) {
        throw new ScheduleError(`cron must have 5 fields (minute hour day month weekday) or 6 (seconds first), got "${s.cron}"`);
      }
      return fields.join(' ');
    }
    case 'hourly':
      if (!Number.isInteger(s.minute) || s.minute < 0 || s.minute > 59) throw new ScheduleError('minute must be 0-59');
      return `${s.minute} * * * *`;
    case 'daily': {
      const { h, m } = hhmm(s.time);
      return `${m} ${h} * * *`;
    }
    case 'weekly': {
      const { h, m } = hhmm(s.time);
      const d = WEEKDAYS.indexOf(s.day);
      if (d < 0) throw new ScheduleError(`day must be one of ${WEEKDAYS.join(', ')}`);
      return `${m} ${h} * * ${d}`;
    }
  }
}
