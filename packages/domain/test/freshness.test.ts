import t from 'tap';
import { DEFAULT_STALE_AFTER_DAYS, StaleAfterDaysError, freshness, validateStaleAfterDays } from '../src/index.ts';

const now = new Date('2026-11-20T12:00:00Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000);
const DAY = 24 * 3600;

t.test('data age: seconds since the newest assessment, never negative', async (t) => {
  t.same(freshness({ dataAsOf: ago(3 * DAY + 5), lastCompleteHosts: 4, now }), { dataAsOf: ago(3 * DAY + 5), dataAge: 3 * DAY + 5, stale: false, staleReason: null });
  t.equal(freshness({ dataAsOf: new Date(now.getTime() + 60_000), lastCompleteHosts: 4, now }).dataAge, 0, 'a date ahead (clock skew) is age 0');
});

t.test('stale past the threshold, 8 days by default; a connector threshold wins', async (t) => {
  t.equal(DEFAULT_STALE_AFTER_DAYS, 8);
  t.equal(freshness({ dataAsOf: ago(8 * DAY), lastCompleteHosts: 4, now }).stale, false, 'exactly 8 days: not over');
  const old = freshness({ dataAsOf: ago(8 * DAY + 1), lastCompleteHosts: 4, now });
  t.same(old.staleReason, { code: 'DATA_AGE', message: 'the newest assessment is 8 d old, over the 8 d threshold' });
  t.equal(freshness({ dataAsOf: ago(3 * DAY), lastCompleteHosts: 4, staleAfterDays: 2, now }).staleReason?.code, 'DATA_AGE');
  t.equal(freshness({ dataAsOf: ago(9 * DAY), lastCompleteHosts: 4, staleAfterDays: 10, now }).stale, false);
  t.equal(freshness({ dataAsOf: ago(13 * 3600), lastCompleteHosts: 4, staleAfterDays: 0.5, now }).staleReason?.message, 'the newest assessment is 13 h old, over the 0.5 d threshold');
});

t.test('stale when the last complete run read 0 hosts, or nothing was read yet', async (t) => {
  t.same(freshness({ dataAsOf: ago(60), lastCompleteHosts: 0, now }).staleReason, { code: 'ZERO_HOSTS', message: 'the last complete run read 0 hosts' });
  t.same(freshness({ dataAsOf: null, lastCompleteHosts: null, now }), {
    dataAsOf: null,
    dataAge: null,
    stale: true,
    staleReason: { code: 'NO_DATA', message: 'no complete run has read data yet' },
  });
});

t.test('staleAfterDays: a number over 0, at most 366', async (t) => {
  t.equal(validateStaleAfterDays(8), 8);
  t.equal(validateStaleAfterDays(0.25), 0.25);
  t.equal(validateStaleAfterDays(366), 366);
  for (const bad of [0, -1, 367, Number.NaN, Infinity, '8', null]) t.throws(() => validateStaleAfterDays(bad), StaleAfterDaysError, String(bad));
});
