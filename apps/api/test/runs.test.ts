/** Sync history over HTTP (newest first, state and date filters, paging), run detail, on-demand sync. */
import t from 'tap';
import type { RunDoc, RunState } from '@qpc/store/db';
import { allIndexes, ensureIndexes } from '@qpc/store/db';
import { VIEWER, startApi } from './helpers.ts';
import { checkServedByIndex } from './index-plan.ts';
import { runsFilter, runsQuery } from '../src/routes/runs.ts';

const api = await startApi(t);
await ensureIndexes(api.deps.store.db, allIndexes());

const connector = async (name: string) =>
  (await api.call('POST', '/api/connectors', {
    body: { name, url: 'https://qualys.example', username: 'u', password: 'p4ss-word', network: 'n1', reportTitlePrefix: 'PC' },
  })).json.id as string;
const c1 = await connector('one');
const c2 = await connector('two');

const STATES: RunState[] = ['succeeded', 'failed', 'no-new-report', 'partial', 'succeeded', 'queued'];
const t0 = Date.parse('2026-11-01T00:00:00Z');
const runs: RunDoc[] = Array.from({ length: 36 }, (_, i) => ({
  _id: `run-${String(i).padStart(3, '0')}`,
  connectorId: i % 3 === 2 ? c2 : c1,
  syncId: `sync-${Math.floor(i / 2)}`,
  trigger: i % 4 === 0 ? 'schedule' : 'on-demand',
  reportId: String(5000 + i),
  reportTitle: 'PC weekly',
  reportLaunchedAt: new Date(t0 + i * 3600_000),
  attempt: 1,
  network: 'n1',
  state: STATES[i % STATES.length]!,
  index: 0,
  skipped: [],
  // two runs share each instant: the (createdAt, _id) key keeps their order stable
  createdAt: new Date(t0 + Math.floor(i / 2) * 6 * 3600_000),
  updatedAt: new Date(t0 + i * 3600_000),
  endedAt: null,
  timings: { fetch: { startedAt: null, endedAt: null, ms: null }, parse: { startedAt: null, endedAt: null, ms: null }, write: { startedAt: null, endedAt: null, ms: null }, finalize: { startedAt: null, endedAt: null, ms: null } },
  counts: { bytes: 10, hostsParsed: 1, findingsParsed: 2, hostsCreated: 1, hostsUpdated: 0, findingsCreated: 2, findingsUpdated: 0, findingsClosed: 0, findingsReopened: 0, urbaClosed: 0, recordsRejected: 0, batches: 1, batchesWritten: 1, batchesFailed: 0 },
  rejected: [],
  qualys: { calls: 3, conflicts409: i % 5 === 0 ? 1 : 0, waitedSec: 0 },
  progress: { bytesDownloaded: 10, bytesParsed: 10, batchesWritten: 1 },
  parse: null,
  file: null,
  urba: null,
  review: false,
  resumes: 0,
  error: STATES[i % STATES.length] === 'failed' ? { class: 'QUALYS_BAD_CREDENTIALS', message: 'bad login', stage: 'sync', at: new Date() } : null,
}));
await api.deps.store.col.runs.insertMany(runs);

const newestFirst = (list: RunDoc[]) =>
  [...list].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a._id < b._id ? 1 : -1)).map((r) => r._id);

async function pageAll(path: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await api.call('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { token: VIEWER });
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
    ids.push(...r.json.items.map((i: { id: string }) => i.id));
    cursor = r.json.next;
  } while (cursor);
  return ids;
}

t.test('history of a connector: newest first, paged to the end, filters', async (t) => {
  t.same(await pageAll(`/api/connectors/${c1}/runs`, 5), newestFirst(runs.filter((r) => r.connectorId === c1)));
  t.same(await pageAll(`/api/connectors/${c1}/runs?state=failed`, 2), newestFirst(runs.filter((r) => r.connectorId === c1 && r.state === 'failed')));
  const from = '2026-11-02T00:00:00Z';
  const to = '2026-11-04T12:00:00Z';
  const inRange = (r: RunDoc) => r.createdAt >= new Date(from) && r.createdAt < new Date(to);
  t.same(await pageAll(`/api/connectors/${c1}/runs?from=${from}&to=${to}`, 3), newestFirst(runs.filter((r) => r.connectorId === c1 && inRange(r))));
  t.same(
    await pageAll(`/api/connectors/${c2}/runs?state=succeeded&from=2026-11-02`, 1),
    newestFirst(runs.filter((r) => r.connectorId === c2 && r.state === 'succeeded' && r.createdAt >= new Date('2026-11-02T00:00:00Z'))),
  );
  t.same(await pageAll('/api/runs', 7), newestFirst(runs), 'every connector');
  t.same(await pageAll(`/api/runs?connectorId=${c2}&state=no-new-report`, 7), newestFirst(runs.filter((r) => r.connectorId === c2 && r.state === 'no-new-report')));
  t.same(await pageAll('/api/runs?state=partial', 2), newestFirst(runs.filter((r) => r.state === 'partial')));

  const bad = await api.call('GET', `/api/connectors/${c1}/runs?state=done`, { token: VIEWER });
  t.equal(bad.status, 400);
  t.match(bad.json.error.message, /^state: /);
  t.match((await api.call('GET', `/api/connectors/${c1}/runs?from=yesterday`, { token: VIEWER })).json.error.message, /^from: /);
  t.equal((await api.call('GET', '/api/connectors/none/runs', { token: VIEWER })).status, 404);
});

t.test('one run', async (t) => {
  const r = await api.call('GET', '/api/runs/run-001', { token: VIEWER });
  t.equal(r.status, 200);
  t.equal(r.json.state, 'failed');
  t.same(r.json.error.class, 'QUALYS_BAD_CREDENTIALS');
  t.same(r.json.qualys, { calls: 3, conflicts409: 0, waitedSec: 0 });
  t.ok(r.json.timings.fetch);
  t.equal(r.json.file, null, 'no report file stored');
  t.equal(r.json.resumes, 0);
  const purgedAt = new Date('2026-11-03T00:00:00Z');
  await api.deps.store.col.runs.updateOne({ _id: 'run-002' }, { $set: { resumes: 2, file: { id: 'file-run-002', length: 1234, sha256: 'ab'.repeat(32), etag: null, purgedAt } } });
  const p = await api.call('GET', '/api/runs/run-002', { token: VIEWER });
  t.same(p.json.file, { length: 1234, sha256: 'ab'.repeat(32), purgedAt: purgedAt.toISOString() }, 'the stored file, and when retention removed it');
  t.equal(p.json.resumes, 2, 'times revived by a retried job');
  t.equal((await api.call('GET', '/api/runs/none', { token: VIEWER })).status, 404);
});

t.test('a parsing run blocked on backpressure shows what it waits for', async (t) => {
  const since = new Date('2026-11-05T10:00:00Z');
  const waiting = { reason: 'batches', pending: 8, since };
  await api.deps.store.col.runs.updateOne({ _id: 'run-005' }, { $set: { state: 'parsing', 'progress.waiting': waiting } });
  const r = await api.call('GET', '/api/runs/run-005', { token: VIEWER });
  t.equal(r.status, 200);
  t.same(r.json.progress, {
    bytesDownloaded: 10,
    bytesParsed: 10,
    batchesWritten: 1,
    reportBytes: null,
    waiting: { reason: 'batches', pending: 8, since: since.toISOString(), message: 'waiting for 8 batches to be written' },
  });
  // the mark a crashed attempt left on a run that has ended is not shown
  await api.deps.store.col.runs.updateOne({ _id: 'run-001' }, { $set: { 'progress.waiting': waiting } });
  t.equal((await api.call('GET', '/api/runs/run-001', { token: VIEWER })).json.progress.waiting, null);
  t.equal((await api.call('GET', '/api/runs/run-000', { token: VIEWER })).json.progress.waiting, null, 'a run that never waited');
});

t.test('every history query is served by an index', async (t) => {
  const col = api.deps.store.db.collection('runs');
  const sort = { createdAt: -1, _id: -1 } as const;
  for (const q of [{}, { state: 'failed' }, { from: '2026-11-02' }, { state: 'succeeded', from: '2026-11-02', to: '2026-11-05' }]) {
    for (const connectorId of [undefined, c1]) {
      const c = await checkServedByIndex(col, runsFilter(runsQuery.parse(q), connectorId), sort);
      t.ok(c.ok, `runs ${JSON.stringify(q)} connector=${connectorId ?? 'any'}: ${c.how}`);
    }
  }
});

t.test('sync now: 202 with the sync; a second request joins it; a running one is answered', async (t) => {
  const first = await api.call('POST', `/api/connectors/${c1}/sync`);
  t.equal(first.status, 202);
  t.equal(first.json.state, 'queued');
  t.equal(first.json.joined, false);
  const job = await api.deps.queues.sync.getJob(first.json.jobId);
  t.ok(job, 'the sync job is queued');
  t.same(Object.keys(job!.data).sort(), ['connectorId', 'reingest', 'requestId', 'trigger']);
  t.equal(job!.data.trigger, 'on-demand');
  t.notMatch(JSON.stringify(job!.data), 'p4ss-word');

  const second = await api.call('POST', `/api/connectors/${c1}/sync`, { body: { reingest: true } });
  t.equal(second.status, 202);
  t.equal(second.json.joined, true);
  t.equal(second.json.jobId, first.json.jobId, 'the same sync');
  t.equal(await api.deps.queues.sync.count(), 1, 'one sync job');
  t.equal(first.json.reingest, false);
  t.equal(first.json.reingestIgnored, null);
  t.equal(second.json.reingest, false, 'the queued sync does not re-ingest');
  t.match(second.json.reingestIgnored, /^ignored: a sync .* retry when it ends/, 'the joined request is told its reingest is not applied');
  t.equal((await api.deps.queues.sync.getJob(first.json.jobId))!.data.reingest, false, 'and the queued job is unchanged');
  const third = await api.call('POST', `/api/connectors/${c1}/sync`);
  t.equal(third.json.reingestIgnored, null, 'nothing ignored when reingest was not asked');

  // a sync already running (its lock is held): answered with its runs
  await api.deps.store.col.syncLocks.insertOne({ _id: c2, syncId: 'sync-4', runIds: ['run-008', 'run-009'], at: new Date() });
  const running = await api.call('POST', `/api/connectors/${c2}/sync`);
  t.equal(running.status, 202);
  t.equal(running.json.state, 'running');
  t.equal(running.json.joined, true);
  t.equal(running.json.syncId, 'sync-4');
  t.same(running.json.runs.map((r: { id: string }) => r.id).sort(), ['run-008', 'run-009']);
  const runningReingest = await api.call('POST', `/api/connectors/${c2}/sync`, { body: { reingest: true } });
  t.equal(runningReingest.json.joined, true);
  t.equal(runningReingest.json.reingest, null, 'the running sync\'s job is gone: not known');
  t.match(runningReingest.json.reingestIgnored, /^ignored: a sync is running/);
  t.equal(await api.deps.queues.sync.count(), 1, 'nothing queued for it');
  // a queued sync that re-ingests: a second reingest request is that one, nothing ignored
  await api.deps.store.col.syncLocks.deleteOne({ _id: c2 });
  const r1 = await api.call('POST', `/api/connectors/${c2}/sync`, { body: { reingest: true } });
  t.same([r1.json.joined, r1.json.reingest, r1.json.reingestIgnored], [false, true, null]);
  const r2 = await api.call('POST', `/api/connectors/${c2}/sync`, { body: { reingest: true } });
  t.same([r2.json.joined, r2.json.reingest, r2.json.reingestIgnored], [true, true, null]);
  t.equal((await api.call('POST', '/api/connectors/none/sync')).status, 404);
  const doc = api.openapi as { paths: Record<string, Record<string, { summary: string }>> };
  t.match(doc.paths['/api/connectors/{id}/sync']?.post?.summary, /reingest/, 'what happens to a reingest that joins is documented');
  t.equal((await api.call('POST', `/api/connectors/${c1}/sync`, { body: { reingest: 'yes' } })).status, 400);
});
