/** A run's jobs linked into Bull Board, its progress, and retrying its failed jobs (real BullMQ workers fail them). */
import t from 'tap';
import { Worker } from 'bullmq';
import { jobIds } from '@qpc/jobs';
import type { ConnectorDoc, RunDoc } from '@qpc/store/db';
import { waitFor } from '@qpc/testing';
import { connectionOptions } from '@qpc/worker-kit';
import { VIEWER, startApi } from './helpers.ts';

const api = await startApi(t);

const run = (id: string, over: Partial<RunDoc>): RunDoc =>
  ({
    _id: id, connectorId: 'c1', syncId: `sync-${id}`, trigger: 'on-demand', reportId: `rep-${id}`, reportTitle: 'PC', reportLaunchedAt: null,
    attempt: 1, network: 'n1', state: 'failed', index: 0, skipped: [], createdAt: new Date('2026-11-01T00:00:00Z'), updatedAt: new Date(), endedAt: new Date(),
    timings: { fetch: { startedAt: null, endedAt: null, ms: 120 }, parse: { startedAt: null, endedAt: null, ms: 80 }, write: { startedAt: null, endedAt: null, ms: null }, finalize: { startedAt: null, endedAt: null, ms: null } },
    counts: { batches: 3 } as RunDoc['counts'], rejected: [], qualys: { calls: 1, conflicts409: 0, waitedSec: 0 },
    progress: { bytesDownloaded: 4096, bytesParsed: 2048, batchesWritten: 2 }, parse: { complete: true, batches: 3, summary: null },
    file: { id: 'f', length: 4096, sha256: 'ab'.repeat(32), etag: null }, urba: null, review: false, resumes: 1,
    error: { class: 'UPSERT_FAILED', message: 'batch 1 failed', stage: 'upsert', at: new Date() },
    ...over,
  }) as RunDoc;

await api.deps.store.col.runs.insertMany([
  run('r1', {}),
  run('r-ok', { state: 'succeeded', error: null }),
  run('r-old', { connectorId: 'c2', createdAt: new Date('2026-10-01T00:00:00Z') }),
  run('r-new', { connectorId: 'c2', state: 'succeeded', createdAt: new Date('2026-10-02T00:00:00Z'), error: null }),
  run('r-busy', { connectorId: 'c3' }),
  run('r-gone', { connectorId: 'c4' }),
  run('r-del', { connectorId: 'c5' }),
]);
// the connectors the retries fall back on (c4 is gone, c5 is being deleted)
const connector = (id: string, over: Partial<ConnectorDoc> = {}) =>
  ({ _id: id, name: `conn ${id}`, nameLower: `conn ${id}`, network: 'n1', createdAt: new Date(), updatedAt: new Date(), ...over }) as ConnectorDoc;
await api.deps.store.col.connectors.insertMany([
  connector('c1'),
  connector('c2'),
  connector('c3'),
  connector('c5', { deleting: { purge: false, lockId: 'l', at: new Date() } }),
]);
await api.deps.store.col.syncLocks.insertOne({ _id: 'c3', syncId: 'another-sync', runIds: ['x'], at: new Date() });

// real jobs, failed by a real worker: r1's second batch and its revived (generation 1) finalize fail
const data = (runId: string, seq?: number) => ({ connectorId: 'c1', runId, ...(seq === undefined ? {} : { seq }) });
const failIds = new Set([jobIds.upsert('r1', 1), jobIds.finalize('r1', 1), jobIds.upsert('r-busy', 0)]);
await api.deps.queues.fetch.add('fetch', data('r1'), { jobId: jobIds.fetch('r1') });
for (const seq of [0, 1, 2]) await api.deps.queues.upsert.add('upsert', data('r1', seq), { jobId: jobIds.upsert('r1', seq), attempts: 1 });
await api.deps.queues.upsert.add('upsert', data('r-busy', 0), { jobId: jobIds.upsert('r-busy', 0), attempts: 1 });
await api.deps.queues.finalize.add('finalize', data('r1'), { jobId: jobIds.finalize('r1', 1), attempts: 1 });
const workers = (['upsert', 'finalize'] as const).map(
  (q) =>
    new Worker(q, async (job) => {
      if (failIds.has(job.id!)) throw new Error('boom');
    }, { connection: connectionOptions(api.redisUrl, 'worker'), prefix: api.prefix }),
);
await waitFor(async () => (await api.deps.queues.upsert.getFailedCount()) === 2 && (await api.deps.queues.finalize.getFailedCount()) === 1, 20_000);
await waitFor(async () => (await api.deps.queues.upsert.getCompletedCount()) === 2, 20_000);
await Promise.all(workers.map((w) => w.close()));

t.test('a run shows its progress, the report size and its jobs linked into the board', async (t) => {
  const r = await api.call('GET', '/api/runs/r1', { token: VIEWER });
  t.equal(r.status, 200);
  t.equal(r.json.state, 'failed');
  t.same(r.json.progress, { bytesDownloaded: 4096, bytesParsed: 2048, batchesWritten: 2, reportBytes: 4096, waiting: null });
  t.equal(r.json.timings.fetch.ms, 120);
  t.equal(r.json.error.class, 'UPSERT_FAILED');
  const jobs = [...r.json.jobs].sort((a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id));
  t.same(jobs, [
    { queue: 'fetch', id: 'fetch-r1', state: 'waiting', url: '/admin/queues/queue/fetch/fetch-r1' },
    { queue: 'finalize', id: 'finalize-r1-1', state: 'failed', url: '/admin/queues/queue/finalize/finalize-r1-1' },
    { queue: 'upsert', id: 'upsert-r1-0', state: 'completed', url: '/admin/queues/queue/upsert/upsert-r1-0' },
    { queue: 'upsert', id: 'upsert-r1-1', state: 'failed', url: '/admin/queues/queue/upsert/upsert-r1-1' },
    { queue: 'upsert', id: 'upsert-r1-2', state: 'completed', url: '/admin/queues/queue/upsert/upsert-r1-2' },
  ]);
  const page = await api.call('GET', jobs[1].url, { token: VIEWER });
  t.equal(page.status, 200, 'the board page of the job');
  t.match(page.text, /<html/i);
  const job = await api.call('GET', jobs[1].url.replace('/admin/queues/queue/', '/admin/queues/api/queues/'), { token: VIEWER });
  t.equal(job.status, 200, 'the link names a job the board knows');
  t.equal(job.json.job.id, 'finalize-r1-1');
  t.same((await api.call('GET', '/api/runs/r-ok', { token: VIEWER })).json.jobs, [], 'no job kept');
});

t.test('retry: the failed jobs of a failed run go back to the queue; otherwise a sync of the connector, saying why', async (t) => {
  t.equal((await api.call('POST', '/api/runs/r1/retry', { token: VIEWER })).status, 403, 'admin only');
  const r = await api.call('POST', '/api/runs/r1/retry');
  t.equal(r.status, 202, r.text);
  t.equal(r.json.action, 'retried-jobs');
  t.same(r.json.retried.map((j: { id: string }) => j.id).sort(), ['finalize-r1-1', 'upsert-r1-1']);
  t.equal(r.json.sync, null);
  t.match(r.json.message, /2 failed jobs back in the queue/);
  t.equal(await (await api.deps.queues.upsert.getJob('upsert-r1-1'))!.getState(), 'waiting', 'back in the queue');
  t.equal(await (await api.deps.queues.finalize.getJob('finalize-r1-1'))!.getState(), 'waiting');
  t.equal(await (await api.deps.queues.upsert.getJob('upsert-r1-0'))!.getState(), 'completed', 'done batches untouched');

  // nothing failed is left (as after a failure in the sync or fetch stage): a fresh sync instead
  const again = await api.call('POST', '/api/runs/r1/retry');
  t.equal(again.status, 202, again.text);
  t.equal(again.json.action, 'started-sync');
  t.same(again.json.retried, []);
  t.match(again.json.message, /no failed job left.*started a new sync/);
  const syncJob = await api.deps.queues.sync.getJob(again.json.sync.jobId);
  t.ok(syncJob, 'the sync job is in the sync queue');
  t.equal((syncJob!.data as { connectorId: string }).connectorId, 'c1');
  const third = await api.call('POST', '/api/runs/r1/retry');
  t.equal(third.json.action, 'joined-sync', 'a second retry joins the queued sync');
  t.equal(third.json.sync.jobId, again.json.sync.jobId);

  const ok = await api.call('POST', '/api/runs/r-ok/retry');
  t.equal(ok.status, 409);
  t.equal(ok.json.error.code, 'RUN_NOT_RETRYABLE');
  t.match(ok.json.error.message, /succeeded/);
  const old = await api.call('POST', '/api/runs/r-old/retry');
  t.equal(old.status, 202, old.text);
  t.equal(old.json.action, 'started-sync', 'a superseded run: a sync, not its old jobs');
  t.match(old.json.message, /r-new/);
  t.equal((await api.deps.queues.sync.getJob(old.json.sync.jobId))!.data.connectorId, 'c2');
  const busy = await api.call('POST', '/api/runs/r-busy/retry');
  t.equal(busy.status, 202, busy.text);
  t.equal(busy.json.action, 'joined-sync', 'another sync is running: joined');
  t.equal(busy.json.sync.syncId, 'another-sync');
  t.equal(await (await api.deps.queues.upsert.getJob('upsert-r-busy-0'))!.getState(), 'failed', 'its old failed job is left as it was');
  const gone = await api.call('POST', '/api/runs/r-gone/retry');
  t.equal(gone.status, 409);
  t.equal(gone.json.error.code, 'CONNECTOR_GONE');
  const del = await api.call('POST', '/api/runs/r-del/retry');
  t.equal(del.json.error.code, 'CONNECTOR_DELETING');
  t.equal((await api.call('POST', '/api/runs/none/retry')).status, 404);
});
