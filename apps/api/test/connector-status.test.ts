/** Connector list fields for the console (next runs, schedule in words, last run, data age) and the schedule preview. */
import t from 'tap';
import type { RunDoc } from '@qpc/store/db';
import { VIEWER, startApi } from './helpers.ts';

const api = await startApi(t);
const HOUR = 3600_000;
const DAY = 24 * HOUR;

const base = { url: 'https://qualys.example', username: 'u', password: 'p4ss-word', network: 'n1', reportTitlePrefix: 'PC' };

/** the next `n` instants after now that are `offsetMs` past a UTC midnight, `stepDays` apart from `firstDay` matches */
function expectedDaily(offsetMs: number, n: number, keep: (d: Date) => boolean = () => true): string[] {
  const out: string[] = [];
  const now = Date.now();
  let day = Math.floor(now / DAY) * DAY - DAY;
  while (out.length < n) {
    const at = day + offsetMs;
    if (at > now && keep(new Date(at))) out.push(new Date(at).toISOString());
    day += DAY;
  }
  return out;
}

t.test('schedule preview: next three starts in the schedule time zone, and words', async (t) => {
  // Tokyo has no daylight saving: 02:00 there is 17:00 UTC the day before
  const tokyo = await api.call('POST', '/api/schedules/preview', { token: VIEWER, body: { schedule: { kind: 'daily', time: '02:00', timezone: 'Asia/Tokyo' } } });
  t.equal(tokyo.status, 200, tokyo.text);
  t.equal(tokyo.json.valid, true);
  t.same(tokyo.json.nextRuns, expectedDaily(17 * HOUR, 3));
  t.equal(tokyo.json.text, 'daily at 02:00 (Asia/Tokyo)');

  const weekly = await api.call('POST', '/api/schedules/preview', { body: { schedule: { kind: 'weekly', day: 'mon', time: '06:30', timezone: 'UTC' } } });
  t.same(weekly.json.nextRuns, expectedDaily(6.5 * HOUR, 3, (d) => d.getUTCDay() === 1));
  t.equal(weekly.json.text, 'weekly on Monday at 06:30 (UTC)');

  const cron = await api.call('POST', '/api/schedules/preview', { body: { schedule: { kind: 'cron', cron: '15 */6 * * *', timezone: 'UTC' } } });
  const sixHourly: string[] = [];
  for (let at = Math.floor(Date.now() / (6 * HOUR)) * 6 * HOUR + 15 * 60_000; sixHourly.length < 3; at += 6 * HOUR) {
    if (at > Date.now()) sixHourly.push(new Date(at).toISOString());
  }
  t.same(cron.json.nextRuns, sixHourly);
  t.equal(cron.json.text, 'cron "15 */6 * * *" (UTC)');
  const hourly = await api.call('POST', '/api/schedules/preview', { body: { schedule: { kind: 'hourly', minute: 5, timezone: 'UTC' } } });
  t.equal(hourly.json.text, 'hourly at minute 5 (UTC)');
});

t.test('schedule preview: the cron parser refuses, with its message; a connector cannot save it either', async (t) => {
  const hour25 = await api.call('POST', '/api/schedules/preview', { body: { schedule: { kind: 'cron', cron: '0 25 * * *', timezone: 'UTC' } } });
  t.equal(hour25.status, 400);
  t.equal(hour25.json.error.code, 'SCHEDULE_INVALID');
  t.match(hour25.json.error.message, /^schedule: invalid cron "0 25 \* \* \*": .*0-23/);
  const feb30 = await api.call('POST', '/api/schedules/preview', { body: { schedule: { kind: 'cron', cron: '0 0 30 2 *', timezone: 'UTC' } } });
  t.equal(feb30.status, 400);
  t.match(feb30.json.error.message, /day of month/i);
  const tz = await api.call('POST', '/api/schedules/preview', { body: { schedule: { kind: 'daily', time: '02:00', timezone: 'Mars/Olympus' } } });
  t.equal(tz.status, 400);
  t.match(tz.json.error.message, /^schedule\.timezone: /);
  t.equal((await api.call('POST', '/api/schedules/preview', { body: {} })).status, 400);

  const saved = await api.call('POST', '/api/connectors', { body: { ...base, name: 'bad-cron', schedule: { kind: 'cron', cron: '0 25 * * *', timezone: 'UTC' } } });
  t.equal(saved.status, 400);
  t.match(saved.json.error.message, /^schedule\.cron: .*0-23/);
});

t.test('connector list and detail: next runs, schedule text, last run, data age', async (t) => {
  const daily = (await api.call('POST', '/api/connectors', { body: { ...base, name: 'a-daily', schedule: { kind: 'daily', time: '02:00', timezone: 'Asia/Tokyo' } } })).json;
  const manual = (await api.call('POST', '/api/connectors', { body: { ...base, name: 'b-manual' } })).json;
  const off = (await api.call('POST', '/api/connectors', { body: { ...base, name: 'c-off', schedule: { kind: 'daily', time: '02:00', timezone: 'UTC', enabled: false } } })).json;
  t.same(daily.nextRuns, expectedDaily(17 * HOUR, 3), 'also in the create answer');

  const now = Date.now();
  const run = (id: string, createdAt: number, state: RunDoc['state'], dataAsOf: number) =>
    ({ _id: id, connectorId: daily.id, syncId: 's', reportId: id, attempt: 1, state, createdAt: new Date(createdAt), endedAt: state === 'succeeded' ? new Date(createdAt + 60_000) : null, counts: { findingsCreated: createdAt % 7 }, dataAsOf: new Date(dataAsOf) }) as unknown as RunDoc;
  // the newest run failed (its data does not count); the newest assessment is r-mid's, a report older than r-old's is read after it
  await api.deps.store.col.runs.insertMany([
    run('r-old', now - 3 * DAY, 'succeeded', now - 5 * DAY),
    run('r-new', now - DAY, 'failed', now - 3600_000),
    run('r-mid', now - 2 * DAY, 'succeeded', now - 2 * DAY - 3600_000),
    run('r-older-report', now - 1.5 * DAY, 'succeeded', now - 6 * DAY),
  ]);

  const list = await api.call('GET', '/api/connectors', { token: VIEWER });
  t.equal(list.status, 200);
  const [a, b, c] = list.json.items;
  t.same([a.name, b.name, c.name], ['a-daily', 'b-manual', 'c-off']);
  t.same(a.nextRuns, expectedDaily(17 * HOUR, 3));
  t.equal(a.scheduleText, 'daily at 02:00 (Asia/Tokyo)');
  t.same(a.lastRun, { id: 'r-new', state: 'failed', startedAt: new Date(now - DAY).toISOString(), endedAt: null, counts: { findingsCreated: (now - DAY) % 7 }, capacityWarning: null }, 'the newest run');
  t.equal(a.dataAsOf, new Date(now - 2 * DAY - 3600_000).toISOString(), 'the newest assessment of the complete runs');
  t.ok(Math.abs(a.dataAge - (2 * DAY + 3600_000) / 1000) < 60, `${a.dataAge} s old`);
  t.same([a.stale, a.staleReason, a.staleAfterDays], [false, null, null], 'fresh under the default 8 days');

  t.same(b.nextRuns, [], 'on demand');
  t.equal(b.scheduleText, 'on demand only');
  t.equal(b.lastRun, null);
  t.same([b.dataAsOf, b.dataAge, b.stale, b.staleReason], [null, null, true, { code: 'NO_DATA', message: 'no complete run has read data yet' }]);
  t.same(c.nextRuns, [], 'disabled schedule');
  t.equal(c.scheduleText, 'on demand only (schedule daily at 02:00 (UTC) is disabled)');

  const one = await api.call('GET', `/api/connectors/${daily.id}`, { token: VIEWER });
  t.same(one.json.lastRun, a.lastRun);
  t.same(one.json.nextRuns, a.nextRuns);
  t.notMatch(list.text + one.text, 'p4ss-word');
  t.equal(manual.lastRun, null);
  t.equal(off.hasPassword, true);
});
