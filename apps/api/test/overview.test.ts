/** GET /api/overview and GET /api/connectors/:id/runs/chart over a small hand-counted data set. */
import t from 'tap';
import type { FindingDoc, RunDoc } from '@qpc/store/db';
import { VIEWER, startApi } from './helpers.ts';

const api = await startApi(t);
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const now = Date.now();

const make = async (name: string, network: string, schedule?: unknown) =>
  (await api.call('POST', '/api/connectors', {
    body: { name, url: 'https://qualys.example', username: 'u', password: 'p4ss-word', network, reportTitlePrefix: 'PC', ...(schedule ? { schedule } : {}) },
  })).json.id as string;
const A = await make('a-daily', 'net-a', { kind: 'daily', time: '02:00', timezone: 'UTC' });
const B = await make('b-manual', 'net-a');
const C = await make('c-never', 'net-b');
const D = await make('d-chart', 'net-b');

type F = [id: string, network: string, host: string, policy: string, control: string, test: 'Passed' | 'Failed' | 'Error', status: 'Open' | 'Closed', severity: FindingDoc['severity'], urba?: boolean];
const rows: F[] = [
  ['f1', 'net-a', 'h1', 'P1', '100', 'Failed', 'Open', 'High'],
  ['f2', 'net-a', 'h2', 'P1', '100', 'Failed', 'Open', 'High'],
  ['f3', 'net-a', 'h2', 'P1', '100', 'Failed', 'Open', 'Critical'],
  ['f4', 'net-a', 'h1', 'P1', '200', 'Passed', 'Closed', 'Medium'],
  ['f5', 'net-a', 'h1', 'P2', '300', 'Error', 'Open', null],
  ['f6', 'net-a', 'h3', 'P1', '200', 'Failed', 'Closed', 'Low', true],
  ['f7', 'net-a', 'h3', 'P2', '300', 'Failed', 'Open', 'Low'],
  ['f8', 'net-b', 'h9', 'P1', '100', 'Passed', 'Closed', 'Info'],
];
await api.deps.store.col.findings.insertMany(
  rows.map(([id, network, host, policyId, controlId, testStatus, status, severity, urba]) => ({
    _id: id, network, hostKey: `qid:${host}`, hostId: host, policyId, policyTitle: `Policy ${policyId}`, controlId, title: `Control ${controlId}`,
    testStatus, status, severity, closedReason: urba ? 'urba' : status === 'Closed' ? 'passed' : null,
  }) as unknown as FindingDoc),
);

const run = (id: string, connectorId: string, state: RunDoc['state'], createdAt: number, counts: Partial<RunDoc['counts']> = {}, dataAsOf?: number) =>
  ({
    _id: id, connectorId, syncId: `s-${id}`, state, createdAt: new Date(createdAt), endedAt: new Date(createdAt + 60_000), counts,
    ...(dataAsOf === undefined ? {} : { dataAsOf: new Date(dataAsOf) }),
    error: state === 'failed' || state === 'partial' ? { class: 'QUALYS_TIMEOUT', message: `run ${id} timed out`, stage: 'fetch', at: new Date(createdAt) } : null,
  }) as unknown as RunDoc;
await api.deps.store.col.runs.insertMany([
  run('ra-ok', A, 'succeeded', now - 3 * HOUR, { hostsParsed: 3 }, now - 2 * HOUR),
  run('ra-failed', A, 'failed', now - DAY),
  run('rb-ok', B, 'succeeded', now - 9 * DAY, { hostsParsed: 3 }, now - 9 * DAY),
  run('rb-partial', B, 'partial', now - 2 * DAY, {}, now - 2 * DAY),
  run('rc-old', C, 'failed', now - 10 * DAY),
  ...Array.from({ length: 32 }, (_, i) =>
    run(`rd-${String(i).padStart(2, '0')}`, D, 'succeeded', now - (40 - i) * DAY, { findingsCreated: i, findingsClosed: 2 * i, findingsReopened: i % 3, urbaClosed: i % 2 })),
]);

t.test('overview: posture per network, stale connectors, failed runs of the week', async (t) => {
  const r = await api.call('GET', '/api/overview', { token: VIEWER });
  t.equal(r.status, 200, r.text);
  const [a, b] = r.json.networks;
  t.equal(r.json.networks.length, 2);
  t.equal(a.network, 'net-a');
  t.same([...a.connectors].sort(), [A, B].sort());
  t.same(a.openBySeverity, { Critical: 1, High: 2, Medium: 0, Low: 1, Info: 0, Unknown: 1 }, 'open only; URBA-closed out of scope');
  t.same(a.policies, [
    { policyId: 'P1', title: 'Policy P1', passed: 1, failed: 3, error: 0, passRate: 0.25 },
    { policyId: 'P2', title: 'Policy P2', passed: 0, failed: 1, error: 1, passRate: 0 },
  ]);
  t.same(a.topFailingControls, [
    { controlId: '100', title: 'Control 100', hosts: 2 },
    { controlId: '300', title: 'Control 300', hosts: 1 },
  ], 'distinct hosts failing each control, most first');
  t.equal(b.network, 'net-b');
  t.same(b.openBySeverity, { Critical: 0, High: 0, Medium: 0, Low: 0, Info: 0, Unknown: 0 });
  t.same(b.policies, [{ policyId: 'P1', title: 'Policy P1', passed: 1, failed: 0, error: 0, passRate: 1 }]);
  t.same(b.topFailingControls, []);

  const stale = r.json.staleConnectors as { id: string; name: string; dataAgeSeconds: number | null; staleReason: { code: string } }[];
  t.same(stale.map((s) => s.name), ['b-manual', 'c-never', 'd-chart'], 'a 2 h old assessment is fresh');
  t.ok(Math.abs(stale[0]!.dataAgeSeconds! - 9 * 24 * 3600) < 60, 'a partial run\'s newer data does not count');
  t.equal(stale[0]!.staleReason.code, 'DATA_AGE');
  t.equal(stale[1]!.dataAgeSeconds, null, 'never ingested');
  t.same(stale.map((s) => s.staleReason.code), ['DATA_AGE', 'NO_DATA', 'NO_DATA'], 'd-chart: complete runs that read no dated data');

  t.same(r.json.failedRuns7d.map((x: { id: string }) => x.id), ['ra-failed', 'rb-partial'], 'newest first, 10-day-old one left out');
  t.same(r.json.failedRuns7d[0], { id: 'ra-failed', connectorId: A, state: 'failed', endedAt: new Date(now - DAY + 60_000).toISOString(), error: { class: 'QUALYS_TIMEOUT', message: 'run ra-failed timed out', stage: 'fetch' } });
  t.notMatch(r.text, 'p4ss-word');
});

t.test('chart: the last 30 runs oldest first, and open findings by severity', async (t) => {
  const r = await api.call('GET', `/api/connectors/${D}/runs/chart`, { token: VIEWER });
  t.equal(r.status, 200);
  t.equal(r.json.runs.length, 30);
  t.equal(r.json.runs[0].runId, 'rd-02', 'the two oldest of 32 left out');
  t.equal(r.json.runs[29].runId, 'rd-31');
  t.same(r.json.runs[1], { runId: 'rd-03', at: new Date(now - 37 * DAY).toISOString(), created: 3, closed: 6, reopened: 0, urbaClosed: 1 });
  t.same(r.json.openBySeverity, { Critical: 0, High: 0, Medium: 0, Low: 0, Info: 0, Unknown: 0 });
  const a = await api.call('GET', `/api/connectors/${A}/runs/chart`, { token: VIEWER });
  t.same(a.json.runs.map((x: { runId: string }) => x.runId), ['ra-failed', 'ra-ok']);
  t.same(a.json.openBySeverity, { Critical: 1, High: 2, Medium: 0, Low: 1, Info: 0, Unknown: 1 });
  t.equal((await api.call('GET', '/api/connectors/none/runs/chart', { token: VIEWER })).status, 404);
});
