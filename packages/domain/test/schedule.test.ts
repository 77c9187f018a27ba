/** Schedules are checked by the scheduler's cron parser; next runs follow the time zone; words for the UI. */
import t from 'tap';
import { ScheduleError, describeSchedule, nextRuns, validateSchedule, type Schedule } from '../src/index.ts';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

const cron = (c: string, timezone = 'UTC'): Schedule => ({ enabled: true, kind: 'cron', cron: c, timezone });

t.test('a cron the parser refuses is a ScheduleError on the cron field with the parser message', async (t) => {
  const cases: [string, RegExp][] = [
    ['99 99 99 99 99', /got value 99 expected range 0-59/],
    ['*/0 * * * *', /cannot repeat at every 0 time/],
    ['0 0 30 2 *', /Invalid explicit day of month/],
    ['a * * * *', /Invalid characters/],
    ['* * *', /must have 5 fields/],
  ];
  for (const [c, re] of cases) {
    const err = errorOf(() => validateSchedule(cron(c)));
    t.type(err, ScheduleError, c);
    t.match(err, { code: 'SCHEDULE_INVALID', field: 'cron', message: re }, c);
    t.match(errorOf(() => nextRuns(cron(c), 1)), { field: 'cron' }, `${c}: nextRuns too`);
  }
  t.match(errorOf(() => validateSchedule({ enabled: true, kind: 'daily', time: '24:00', timezone: 'UTC' })), { field: 'time' });
  t.match(errorOf(() => validateSchedule({ enabled: true, kind: 'hourly', minute: 0, timezone: 'Mars/Base' })), { field: 'timezone' });
  t.equal(validateSchedule(cron(' 0  2 * * 1-5 ')), '0 2 * * 1-5');
});

t.test('nextRuns: dates in the schedule time zone, across a DST change', async (t) => {
  const paris: Schedule = { enabled: true, kind: 'daily', time: '02:30', timezone: 'Europe/Paris' };
  // Paris leaves CET (+1) for CEST (+2) on 2026-03-29
  const runs = nextRuns(paris, 3, new Date('2026-03-27T12:00:00Z'));
  t.same(runs.map((d) => d.toISOString()), ['2026-03-28T01:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
  const weekly: Schedule = { enabled: true, kind: 'weekly', day: 'mon', time: '23:05', timezone: 'UTC' };
  // 2026-12-07 is a Monday
  t.same(nextRuns(weekly, 2, new Date('2026-12-07T23:05:00Z')).map((d) => d.toISOString()), ['2026-12-14T23:05:00.000Z', '2026-12-21T23:05:00.000Z']);
  t.same(nextRuns(cron('*/20 * * * *'), 2, new Date('2026-01-01T00:00:00Z')).map((d) => d.toISOString()), ['2026-01-01T00:20:00.000Z', '2026-01-01T00:40:00.000Z']);
  t.same(nextRuns(cron('0 * * * *'), 0), []);
  t.throws(() => nextRuns(cron('0 * * * *'), 1001), RangeError);
  t.throws(() => nextRuns(cron('0 * * * *'), 1.5), RangeError);
});

t.test('describeSchedule', async (t) => {
  t.equal(describeSchedule({ enabled: true, kind: 'daily', time: '02:00', timezone: 'Europe/Paris' }), 'daily at 02:00 (Europe/Paris)');
  t.equal(describeSchedule({ enabled: true, kind: 'hourly', minute: 5, timezone: 'UTC' }), 'hourly at minute 5 (UTC)');
  t.equal(describeSchedule({ enabled: true, kind: 'weekly', day: 'fri', time: '18:30', timezone: 'UTC' }), 'weekly on Friday at 18:30 (UTC)');
  t.equal(describeSchedule({ enabled: false, kind: 'cron', cron: '0  3 * * *', timezone: 'UTC' }), 'disabled: cron "0 3 * * *" (UTC)');
});
