import t from 'tap';
import {
  selectReports,
  titleMatches,
  nextStatus,
  decideUrba,
  countsAddUp,
  scheduleToCron,
  type ListedReport,
  type RunCompleteness,
} from '../src/index.ts';

const now = new Date('2026-11-20T12:00:00Z');
const rep = (id: string, title: string, launched: string, extra: Partial<ListedReport> = {}): ListedReport => ({
  id,
  title,
  type: 'Policy',
  state: 'Finished',
  launchedAt: new Date(launched),
  expiresAt: new Date('2026-12-01T00:00:00Z'),
  outputFormat: 'XML',
  ...extra,
});

t.test('prefix: exact, case-sensitive, trimmed', async (t) => {
  t.ok(titleMatches('  QPC-DEMO Windows ', 'QPC-DEMO '));
  t.notOk(titleMatches('qpc-demo Windows', 'QPC-DEMO'));
  t.notOk(titleMatches('X QPC-DEMO', 'QPC-DEMO'));
});

t.test('selection filters, groups by title, takes the newest unseen, oldest first', async (t) => {
  const reports = [
    rep('1', 'QPC A', '2026-11-10T00:00:00Z'),
    rep('2', 'QPC A', '2026-11-12T00:00:00Z'),
    rep('3', 'QPC A', '2026-11-11T00:00:00Z'),
    rep('4', 'QPC B', '2026-11-09T00:00:00Z'),
    rep('5', 'QPC B', '2026-11-13T00:00:00Z', { state: 'Running' }),
    rep('6', 'QPC C', '2026-11-13T00:00:00Z', { type: 'Scan' }),
    rep('7', 'QPC D', '2026-11-13T00:00:00Z', { expiresAt: new Date('2026-11-19T00:00:00Z') }),
    rep('8', 'Other', '2026-11-13T00:00:00Z'),
    rep('9', 'QPC E', '2026-11-13T00:00:00Z', { type: 'Compliance', outputFormat: 'PDF' }),
  ];
  const s = selectReports(reports, { prefix: 'QPC', ingested: new Set(), now });
  t.same(s.chosen.map((r) => r.id), ['4', '2'], 'newest of each title, oldest first');
  const skipped = Object.fromEntries(s.skipped.map((x) => [x.report.id, x.reason]));
  t.same(skipped, { '1': 'older-unseen', '3': 'older-unseen', '5': 'not-finished', '6': 'not-policy', '7': 'expired', '9': 'not-xml' });
});

t.test('already ingested: nothing new; reingest takes the newest again; never go back in time', async (t) => {
  const reports = [rep('1', 'QPC A', '2026-11-10T00:00:00Z'), rep('2', 'QPC A', '2026-11-12T00:00:00Z')];
  t.same(selectReports(reports, { prefix: 'QPC', ingested: new Set(['2']), now }).chosen, [], 'no new report');
  t.same(selectReports(reports, { prefix: 'QPC', ingested: new Set(['2']), now }).skipped.map((x) => x.report.id), ['1']);
  t.same(selectReports(reports, { prefix: 'QPC', ingested: new Set(['2']), now, reingest: true }).chosen.map((r) => r.id), ['2']);
  const three = [...reports, rep('3', 'QPC A', '2026-11-14T00:00:00Z')];
  t.same(selectReports(three, { prefix: 'QPC', ingested: new Set(['1']), now }).chosen.map((r) => r.id), ['3']);
});

t.test('lifecycle transitions', async (t) => {
  t.same(nextStatus(null, 'Failed'), { status: 'Open', change: { from: null, to: 'Open', reason: 'new' } });
  t.same(nextStatus(null, 'Passed'), { status: 'Closed', change: { from: null, to: 'Closed', reason: 'new' } });
  t.same(nextStatus('Open', 'Passed'), { status: 'Closed', change: { from: 'Open', to: 'Closed', reason: 'passed' } });
  t.same(nextStatus('Closed', 'Failed'), { status: 'Open', change: { from: 'Closed', to: 'Open', reason: 'reopened' } });
  t.same(nextStatus('Closed', 'Error'), { status: 'Open', change: { from: 'Closed', to: 'Open', reason: 'reopened' } });
  t.same(nextStatus('Open', 'Error'), { status: 'Open', change: null });
  t.same(nextStatus('Closed', 'Passed'), { status: 'Closed', change: null });
});

const complete: RunCompleteness = { readToEnd: true, allBatchesWritten: true, findingsParsed: 100, findingsWritten: 100, rejected: 0, hostsParsed: 10 };
const base = { autoUrba: true, dryRun: false, completeness: complete, candidates: 10, openBefore: 100, threshold: 0.5 };

t.test('URBA guard rails', async (t) => {
  t.equal(decideUrba(base).decision, 'apply');
  t.equal(decideUrba({ ...base, autoUrba: false }).decision, 'off');
  t.equal(decideUrba({ ...base, completeness: { ...complete, readToEnd: false } }).decision, 'skipped', 'truncated');
  t.equal(decideUrba({ ...base, completeness: { ...complete, allBatchesWritten: false } }).decision, 'skipped', 'failed batch');
  t.equal(decideUrba({ ...base, completeness: { ...complete, findingsWritten: 99 } }).decision, 'skipped', 'counts');
  t.equal(decideUrba({ ...base, completeness: { ...complete, findingsParsed: 0, findingsWritten: 0 } }).decision, 'skipped', 'empty');
  t.equal(decideUrba({ ...base, candidates: 50 }).decision, 'apply', 'exactly 50% is allowed');
  t.equal(decideUrba({ ...base, candidates: 51 }).decision, 'threshold', 'more than 50% stops');
  t.equal(decideUrba({ ...base, dryRun: true }).decision, 'dry-run');
  t.equal(decideUrba({ ...base, candidates: 0 }).decision, 'apply');
  t.ok(countsAddUp({ ...complete, findingsParsed: 98, rejected: 2 }, 0));
});

t.test('schedules', async (t) => {
  t.equal(scheduleToCron({ enabled: true, kind: 'hourly', minute: 5, timezone: 'UTC' }), '5 * * * *');
  t.equal(scheduleToCron({ enabled: true, kind: 'daily', time: '02:30', timezone: 'Europe/Paris' }), '30 2 * * *');
  t.equal(scheduleToCron({ enabled: true, kind: 'weekly', day: 'mon', time: '23:05', timezone: 'UTC' }), '5 23 * * 1');
  t.equal(scheduleToCron({ enabled: true, kind: 'cron', cron: ' */5  * * * * ', timezone: 'UTC' }), '*/5 * * * *');
  t.throws(() => scheduleToCron({ enabled: true, kind: 'daily', time: '25:00', timezone: 'UTC' }), { code: 'SCHEDULE_INVALID' });
  t.throws(() => scheduleToCron({ enabled: true, kind: 'cron', cron: '* * *', timezone: 'UTC' }), { code: 'SCHEDULE_INVALID' });
  t.throws(() => scheduleToCron({ enabled: true, kind: 'hourly', minute: 0, timezone: 'Mars/Base' }), { code: 'SCHEDULE_INVALID' });
});
