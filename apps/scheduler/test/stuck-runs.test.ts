/**
 * The run watchdog: a run in progress that nothing moves on any more (its state changed, its next job
 * never enqueued, or its job ended without moving it) is found, and resumed or failed with its sync's
 * lock released; runs that only wait are left alone. Real queues on Redis, real runs in the database,
 * and the scheduler's bundle doing it as a process.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import { createEnqueuer, jobIds, stageJobs } from '@qpc/jobs';
import { createStore, type RunState, type Store } from '@qpc/store/db';
import { acquireSyncLock, createRun, findStuckRuns, recoverStuckRuns, setLockRuns, stageBatch } from '@qpc/store/pipeline';
import { testMongo, testRedis, waitFor } from '@qpc/testing';
import { connectionOptions } from '@qpc/worker-kit';
import { appArgs, buildApps } from '../../../scripts/apps.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const LONG_AGO = new Date(Date.now() - 3_600_000);

async function runIn(store: Store, id: string, state: RunState, opts: { syncId?: string; index?: number; updatedAt?: Date } = {}) {
  const syncId = opts.syncId ?? `sync-${id}`;
  await createRun(store, { _id: id, connectorId: 'c1', syncId, trigger: 'schedule', network: 'net', index: opts.index ?? 0, report: { id: `r-${id}`, title: 'PC', launchedAt: null }, state: 'queued' });
  await store.col.runs.updateOne({ _id: id }, { $set: { state, updatedAt: opts.updatedAt ?? LONG_AGO } });
}

t.test('stuck runs are told from waiting ones, then resumed or failed', async (t) => {
  const { redisUrl, prefix } = await testRedis(t);
  const { db } = await testMongo(t);
  const store = createStore(db);
  const enqueuer = createEnqueuer({ connection: connectionOptions(redisUrl, 'producer'), prefix });
  t.teardown(() => enqueuer.close());
  const jobs = stageJobs(enqueuer);

  // parsing, its parse job never enqueued (the fetch stage died between the two): resumable
  await runIn(store, 'lost-parse', 'parsing');
  // finalizing, its finalize job completed without moving it on: not resumable under the same id
  await runIn(store, 'ended-finalize', 'finalizing');
  await acquireSyncLock(store, 'c1', 'sync-ended-finalize');
  await setLockRuns(store, 'c1', 'sync-ended-finalize', ['ended-finalize']);
  await enqueuer.queue('finalize').add('finalize', { connectorId: 'c1', runId: 'ended-finalize' }, { jobId: jobIds.finalize('ended-finalize') });
  const q = enqueuer.queue('finalize');
  // parsing with a waiting parse job: only waiting
  await runIn(store, 'queued-parse', 'parsing');
  await enqueuer.queue('parse').add('parse', { connectorId: 'c1', runId: 'queued-parse' }, { jobId: jobIds.parse('queued-parse') });
  // writing, one staged batch whose upsert job is missing
  await runIn(store, 'lost-upsert', 'writing');
  await stageBatch(store, 'lost-upsert', 0, [], []);
  // recently updated: not quiet long enough to judge
  await runIn(store, 'fresh', 'parsing', { updatedAt: new Date() });
  // queued behind another run of its sync that is fetching (with its job waiting)
  await runIn(store, 'first', 'fetching', { syncId: 'sync-two', index: 0 });
  await enqueuer.queue('fetch').add('fetch', { connectorId: 'c1', runId: 'first' }, { jobId: jobIds.fetch('first') });
  await runIn(store, 'second', 'queued', { syncId: 'sync-two', index: 1 });

  // the finalize job of 'ended-finalize' completes without touching the run
  const w = new Worker('finalize', async () => 'nothing', { connection: connectionOptions(redisUrl, 'worker'), prefix });
  t.teardown(() => w.close());
  await waitFor(async () => ((await q.getJobState(jobIds.finalize('ended-finalize'))) === 'completed' ? true : null), 20_000);
  await w.close();

  const stuck = await findStuckRuns(store, jobs, 60_000);
  t.same(stuck.map((s) => s.run._id).sort(), ['ended-finalize', 'lost-parse', 'lost-upsert']);
  t.same(stuck.find((s) => s.run._id === 'lost-upsert')?.jobs, [{ stage: 'upsert', key: 0, presence: 'missing' }]);

  const recovered = await recoverStuckRuns(store, jobs, 60_000);
  const byRun = Object.fromEntries(recovered.map((r) => [r.runId, r.action]));
  t.same(byRun, { 'lost-parse': 'resumed', 'lost-upsert': 'resumed', 'ended-finalize': 'failed' });
  t.equal(await enqueuer.queue('parse').getJobState(jobIds.parse('lost-parse')), 'waiting', 'the missing parse job is enqueued');
  t.equal(await enqueuer.queue('upsert').getJobState(jobIds.upsert('lost-upsert', 0)), 'waiting', 'the missing upsert job is enqueued');
  const failed = await store.col.runs.findOne({ _id: 'ended-finalize' });
  t.equal(failed?.state, 'failed');
  t.equal(failed?.error?.class, 'RUN_STUCK');
  t.equal(await store.col.syncLocks.countDocuments({ _id: 'c1' }), 0, "the failed run's sync lock is released");
  t.equal((await store.col.runs.findOne({ _id: 'lost-parse' }))?.state, 'parsing', 'a resumed run keeps its state');
  t.same(await findStuckRuns(store, jobs, 60_000), [], 'nothing stuck afterwards');
});

t.test('the scheduler process resumes a run left in parsing with no parse job', async (t) => {
  const { redisUrl, prefix } = await testRedis(t);
  const { db, url } = await testMongo(t);
  const store = createStore(db);
  const enqueuer = createEnqueuer({ connection: connectionOptions(redisUrl, 'producer'), prefix });
  t.teardown(() => enqueuer.close());
  await runIn(store, 'wedged', 'parsing', { updatedAt: new Date(Date.now() - 10_000) });
  await buildApps(['scheduler']);
  const p: ChildProcess = spawn(process.execPath, appArgs('scheduler'), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', REDIS_URL: redisUrl, MONGO_URL: url, QPC_QUEUE_PREFIX: prefix, QPC_LOG_LEVEL: 'warn', QPC_STUCK_AFTER_MS: '5000' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  t.teardown(() => new Promise((r) => (p.exitCode !== null ? r(null) : (p.once('exit', r), p.kill('SIGTERM')))));
  const state = await waitFor(async () => {
    const s = await enqueuer.queue('parse').getJobState(jobIds.parse('wedged'));
    return s === 'unknown' ? null : s;
  }, 30_000);
  t.equal(state, 'waiting', 'the scheduler enqueued the parse job the run was waiting for');
});
