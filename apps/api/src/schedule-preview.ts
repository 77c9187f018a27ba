/**
 * What a schedule means to a person: its next run times and a sentence. Both come from @qpc/domain,
 * whose cron parser is the one the scheduler's BullMQ job schedulers use, so the preview cannot disagree
 * with when syncs really start.
 */
import { describeSchedule, nextRuns, type Schedule } from '@qpc/domain';

export class SchedulePreviewError extends Error {
  readonly code = 'SCHEDULE_INVALID';
}

/** The next `n` start times after `from` (ISO); throws SchedulePreviewError with the parser's message. */
export function nextRunTimes(s: Schedule, n = 3, from = new Date()): string[] {
  try {
    return nextRuns(s, n, from).map((d) => d.toISOString());
  } catch (err) {
    throw new SchedulePreviewError((err as Error).message);
  }
}

/** "daily at 02:00 (UTC)"; on-demand connectors say so. */
export function scheduleText(s: Schedule | null): string {
  if (!s) return 'on demand only';
  return s.enabled ? describeSchedule(s) : `on demand only (schedule ${describeSchedule({ ...s, enabled: true })} is disabled)`;
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
