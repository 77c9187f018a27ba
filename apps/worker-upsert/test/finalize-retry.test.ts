/**
 * A finalize job that failed for good, retried by hand (Bull Board), finalizes its run: the run it failed
 * is revived (under its sync's lock) instead of the retry completing without doing anything. A run that
 * ended incomplete is not a failure of finalize and stays as it is. Real MongoDB-wire server; the
 * processors are called as the worker calls them.
 */
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { createSecretBox } from '@qpc/secrets';
import { createStore, ensureIndexes, type Store } from '@qpc/store/db';
import { createConnector } from '@qpc/store/connectors';
import { acquireSyncLock, advanceRun, createRun, setLockRuns } from '@qpc/store/pipeline';
import { testMongo } from '@qpc/testing';
import { createLogger } from '@qpc/worker-kit';
import { finalize, finalizeFinalFailure, type FinalizeDeps } from '../src/index.ts';

const box = createSecretBox({ keys: { k1: randomBytes(32) }, currentKeyId: 'k1' });

/** A run of its own sync (holding the connector's lock) whose empty report was parsed whole: ready for finalize. */
async function writingRun(store: Store, parse: { complete: boolean }) {
  const connectorId = (await createConnector(store, box, { name: `c-${randomUUID()}`, url: 'http://127.0.0.1:1', username: 'u', password: 'pw', network: 'net', reportTitlePrefix: 'QPC' }))._id;
  const runId = randomUUID();
  await createRun(store, { _id: runId, connectorId, syncId: runId, trigger: 'on-demand', network: 'net', index: 0, report: { id: 'R1', title: 'QPC x', launchedAt: null }, state: 'queued' });
  await acquireSyncLock(store, connectorId, runId);
  await setLockRuns(store, connectorId, runId, [runId]);
  await advanceRun(store, runId, ['queued'], 'parsing');
  await store.col.runs.updateOne({ _id: runId }, { $set: { parse: { ...parse, batches: 0, summary: parse.complete ? { hosts: 0, findings: 0, rejected: 0 } : null } } });
  await advanceRun(store, runId, ['parsing'], 'writing');
  return { connectorId, runId };
}

t.test('a retried finalize job revives the run its final failure failed, and finalizes it', async (t) => {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const deps: FinalizeDeps = { store, enqueueFetch: async () => undefined, logger: createLogger('finalize-test', 'silent'), urbaThreshold: 0.5 };
  const { connectorId, runId } = await writingRun(store, { complete: true });

  // the finalize job failed on its every attempt (e.g. the database went away): its final failure fails the run
  await finalizeFinalFailure(deps)({ connectorId, runId }, new Error('connection closed'), {} as never);
  const failed = await store.col.runs.findOne({ _id: runId });
  t.match(failed, { state: 'failed', error: { class: 'Error', message: 'connection closed', stage: 'finalize' } });
  t.equal(await store.col.syncLocks.countDocuments({ _id: connectorId }), 0, 'the sync went on (lock released)');

  const retried = await finalize(deps, runId);
  t.same(retried, { outcome: 'done', state: 'succeeded' }, 'the retry finalized the run');
  const run = await store.col.runs.findOne({ _id: runId });
  t.match(run, { state: 'succeeded', error: null, resumes: 1 });
  t.ok(await store.col.reports.findOne({ _id: `${connectorId}:R1` }), 'the report is recorded as ingested');
  t.equal(await store.col.syncLocks.countDocuments({ _id: connectorId }), 0, 'the lock it took again is released');

  // an incomplete run's end (failed by finalize itself, RUN_INCOMPLETE) is left as it is
  const incomplete = await writingRun(store, { complete: false });
  t.equal((await finalize(deps, incomplete.runId)).state, 'failed');
  t.match(await store.col.runs.findOne({ _id: incomplete.runId }), { state: 'failed', error: { class: 'RUN_INCOMPLETE' }, resumes: 0 });
  t.equal((await finalize(deps, incomplete.runId)).state, 'failed', 'finalized again: still failed, not revived');
  t.equal((await store.col.runs.findOne({ _id: incomplete.runId }))?.resumes, 0);
});
