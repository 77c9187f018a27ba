/**
 * reviveRun (a failed job retried by hand) keeps the rules of a sync: one sync per connector at a time,
 * and no older report ingested over a newer one. Real MongoDB-wire server.
 */
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { testMongo, type Teardown } from '@qpc/testing';
import { createSecretBox } from '@qpc/secrets';
import { createStore, ensureIndexes, StoreError, type RunState, type Store } from '../src/db.ts';
import { createConnector } from '../src/connectors.ts';
import { acquireSyncLock, createRun, reviveRun, setLockRuns } from '../src/pipeline.ts';

const box = createSecretBox({ keys: { k1: randomBytes(32) }, currentKeyId: 'k1' });

async function setup(t: Teardown) {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const connectorId = (await createConnector(store, box, { name: `c-${randomUUID()}`, url: 'http://127.0.0.1:1', username: 'u', password: 'pw', network: 'net', reportTitlePrefix: 'QPC' }))._id;
  return { store, connectorId };
}

/** A run of `reportId` in `state`, created at minute `minute` of a fixed day, of sync `syncId` at `index`. */
async function run(store: Store, connectorId: string, o: { reportId: string; state: RunState; minute: number; syncId?: string; index?: number }) {
  const runId = randomUUID();
  const syncId = o.syncId ?? runId;
  await createRun(store, { _id: runId, connectorId, syncId, trigger: 'schedule', network: 'net', index: o.index ?? 0, report: { id: o.reportId, title: 'QPC x', launchedAt: null }, state: 'queued' });
  const error = o.state === 'failed' || o.state === 'partial' ? { class: 'Error', message: 'it broke', stage: 'fetch' as const, at: new Date() } : null;
  await store.col.runs.updateOne({ _id: runId }, { $set: { state: o.state, error, createdAt: new Date(Date.UTC(2026, 0, 1, 0, o.minute)) } });
  return { runId, syncId };
}

async function refusal(p: Promise<unknown>): Promise<StoreError | null> {
  try {
    await p;
    return null;
  } catch (err) {
    return err instanceof StoreError ? err : null;
  }
}

t.test('a failed run with no sync going on is revived and its sync holds the connector\'s lock again', async (t) => {
  const { store, connectorId } = await setup(t);
  const older = await run(store, connectorId, { reportId: 'R0', state: 'succeeded', minute: 1 });
  const failed = await run(store, connectorId, { reportId: 'R1', state: 'failed', minute: 2 });
  const revived = await reviveRun(store, failed.runId, 'fetching');
  t.equal(revived?.state, 'fetching');
  t.equal(revived?.resumes, 1, 'the resume is counted');
  t.equal(revived?.error, null, 'the error is cleared');
  const lock = await store.col.syncLocks.findOne({ _id: connectorId });
  t.same([lock?.syncId, lock?.runIds], [failed.syncId, [failed.runId]], 'the lock names the revived run');
  const other = await acquireSyncLock(store, connectorId, randomUUID());
  t.equal(other.acquired, false, 'another sync of the connector waits for it');
  t.equal(await reviveRun(store, failed.runId, 'fetching'), null, 'a run in progress is not revived again');
  t.equal((await store.col.runs.findOne({ _id: older.runId }))?.state, 'succeeded');
});

t.test('while another sync of the connector runs, or another run of the same sync: SYNC_BUSY, retryable; the run stays failed', async (t) => {
  const { store, connectorId } = await setup(t);
  const failed = await run(store, connectorId, { reportId: 'R1', state: 'failed', minute: 1 });
  const active = await run(store, connectorId, { reportId: 'R1', state: 'parsing', minute: 2 });
  const lock = await acquireSyncLock(store, connectorId, active.syncId);
  t.ok(lock.acquired);
  await setLockRuns(store, connectorId, active.syncId, [active.runId]);
  const busy = await refusal(reviveRun(store, failed.runId, 'fetching'));
  t.equal(busy?.code, 'SYNC_BUSY');
  t.equal(busy?.retryable, true, 'the job tries again later');
  t.match(busy?.message, new RegExp(`sync ${active.syncId}`), 'the message names the sync');
  t.equal((await store.col.runs.findOne({ _id: failed.runId }))?.state, 'failed');

  // the same sync: its second run is in progress
  const { store: s2, connectorId: c2 } = await setup(t);
  const syncId = randomUUID();
  const first = await run(s2, c2, { reportId: 'R1', state: 'failed', minute: 1, syncId, index: 0 });
  const second = await run(s2, c2, { reportId: 'R2', state: 'writing', minute: 1, syncId, index: 1 });
  await acquireSyncLock(s2, c2, syncId);
  await setLockRuns(s2, c2, syncId, [first.runId, second.runId]);
  const sameSync = await refusal(reviveRun(s2, first.runId, 'fetching'));
  t.equal(sameSync?.code, 'SYNC_BUSY');
  t.match(sameSync?.message, new RegExp(`run ${second.runId} of the same sync`));
  t.equal((await s2.col.runs.findOne({ _id: first.runId }))?.state, 'failed');
});

t.test('a run superseded by a later run that wrote (another sync, or a later report of its own sync): RUN_SUPERSEDED, not retryable', async (t) => {
  const { store, connectorId } = await setup(t);
  const failed = await run(store, connectorId, { reportId: 'R1', state: 'partial', minute: 1 });
  // later runs that wrote nothing do not count
  await run(store, connectorId, { reportId: 'R1', state: 'failed', minute: 2 });
  await run(store, connectorId, { reportId: 'R1', state: 'no-new-report', minute: 3 });
  const later = await run(store, connectorId, { reportId: 'R2', state: 'succeeded', minute: 4 });
  const refused = await refusal(reviveRun(store, failed.runId, 'writing'));
  t.equal(refused?.code, 'RUN_SUPERSEDED');
  t.equal(refused?.retryable, false);
  t.match(refused?.message, new RegExp(`run ${later.runId}, report R2`), 'the message names the later run');
  t.equal((await store.col.runs.findOne({ _id: failed.runId }))?.state, 'partial', 'left as it was');
  t.equal(await store.col.syncLocks.countDocuments({ _id: connectorId }), 0, 'no lock taken');

  // within one sync: its next report was ingested after this one failed
  const { store: s2, connectorId: c2 } = await setup(t);
  const syncId = randomUUID();
  const first = await run(s2, c2, { reportId: 'R1', state: 'failed', minute: 1, syncId, index: 0 });
  await run(s2, c2, { reportId: 'R2', state: 'succeeded', minute: 1, syncId, index: 1 });
  t.equal((await refusal(reviveRun(s2, first.runId, 'fetching')))?.code, 'RUN_SUPERSEDED');
  // an earlier run that wrote is no reason to refuse
  const { store: s3, connectorId: c3 } = await setup(t);
  await run(s3, c3, { reportId: 'R1', state: 'succeeded', minute: 1 });
  const last = await run(s3, c3, { reportId: 'R2', state: 'partial', minute: 2 });
  t.equal((await reviveRun(s3, last.runId, 'writing'))?.state, 'writing');
});
