/**
 * The run lifecycle every stage uses (runs.repository.ts): claimStage, completeStage, failRun, failParse.
 * Each stage's claim answers claimed / handed-off / skipped by the run's state, revives a failed or partial
 * run by the stage's own rule, and completeStage moves the run on only from the stage's state. Real
 * MongoDB-wire server.
 */
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { testMongo, type Teardown } from '@qpc/testing';
import { createSecretBox } from '@qpc/secrets';
import { createStore, ensureIndexes, StoreError, type RunDoc, type RunState, type Store } from '../src/db.ts';
import { createConnector } from '../src/connectors.ts';
import { claimStage, completeStage, createRun, failParse, failRun, getRun, stageBatch } from '../src/pipeline.ts';

const box = createSecretBox({ keys: { k1: randomBytes(32) }, currentKeyId: 'k1' });

async function setup(t: Teardown) {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  return { store, connectorId: await connector(store) };
}

/** A connector of its own (a revived run takes its connector's sync lock). */
async function connector(store: Store): Promise<string> {
  return (await createConnector(store, box, { name: `c-${randomUUID()}`, url: 'http://127.0.0.1:1', username: 'u', password: 'pw', network: 'net', reportTitlePrefix: 'QPC' }))._id;
}

/** A run in `state` (set as a test fixture, not through the lifecycle), with `extra` fields. */
async function runIn(store: Store, connectorId: string, state: RunState, extra: Partial<RunDoc> = {}): Promise<string> {
  const runId = randomUUID();
  await createRun(store, { _id: runId, connectorId, syncId: runId, trigger: 'schedule', network: 'net', index: 0, report: { id: `R-${runId}`, title: 'QPC x', launchedAt: null }, state: 'queued' });
  await store.col.runs.updateOne({ _id: runId }, { $set: { state, ...extra } });
  return runId;
}

const file = { id: 'f1', length: 10, sha256: 'x', etag: null };

t.test('fetch: queued is claimed and moved to fetching; once handed to parsing, a retry is handed off', async (t) => {
  const { store, connectorId } = await setup(t);
  const runId = await runIn(store, connectorId, 'queued');
  const first = await claimStage(store, runId, 'fetch');
  t.equal(first.status, 'claimed');
  t.equal(first.run?.state, 'fetching');
  t.ok((await getRun(store, runId)).timings.fetch.startedAt, 'the stage start is stamped');
  t.equal((await claimStage(store, runId, 'fetch')).status, 'claimed', 'a second attempt of the same stage claims it again');
  t.equal((await completeStage(store, runId, 'parse')), null, 'completing another stage than the run is in moves nothing');
  t.equal((await completeStage(store, runId, 'fetch'))?.state, 'parsing');
  const moved = await getRun(store, runId);
  t.ok(moved.timings.fetch.endedAt && moved.timings.parse.startedAt, 'fetch ended, parse started');
  const again = await claimStage(store, runId, 'fetch');
  t.equal(again.status, 'handed-off', 'a retry after the hand-off only makes sure the parse job exists');
  t.equal((await getRun(store, runId)).state, 'parsing', 'and moves nothing');
  t.equal((await claimStage(store, runId, 'write')).status, 'claimed', 'batches are written while the run parses');
});

t.test('parse: claimed in parsing; handed off in writing; a failed run is revived with its parse result cleared unless its file is purged', async (t) => {
  const { store, connectorId } = await setup(t);
  const runId = await runIn(store, connectorId, 'parsing', { file });
  const c = await claimStage(store, runId, 'parse');
  t.equal(c.status, 'claimed');
  const run = await getRun(store, runId);
  t.ok(run.timings.parse.startedAt && run.timings.write.startedAt, 'parse and write started');
  const done = await completeStage(store, runId, 'parse', { set: { parse: { complete: true, batches: 0, summary: null } } });
  t.equal(done?.state, 'writing');
  t.same(done?.parse, { complete: true, batches: 0, summary: null }, 'set with the move');
  t.equal((await claimStage(store, runId, 'parse')).status, 'handed-off');

  const failed = await runIn(store, connectorId, 'failed', { file, parse: { complete: false, batches: 3, summary: null }, error: { class: 'Error', message: 'x', stage: 'parse', at: new Date() } });
  const revived = await claimStage(store, failed, 'parse');
  t.equal(revived.status, 'claimed');
  t.equal(revived.status === 'claimed' && revived.revived, true);
  const after = await getRun(store, failed);
  t.match(after, { state: 'parsing', parse: null, error: null, resumes: 1 }, 'revived: parse cleared, error cleared, resume counted');

  const purged = await runIn(store, await connector(store), 'partial', { file: { ...file, purgedAt: new Date() } });
  const refused = await claimStage(store, purged, 'parse').then(
    () => null,
    (err: unknown) => err,
  );
  t.ok(refused instanceof StoreError && refused.code === 'REPORT_FILE_PURGED' && !refused.retryable, 'REPORT_FILE_PURGED, not retryable');
  t.equal((await getRun(store, purged)).state, 'partial', 'left as it was');
});

t.test('write and finalize: revive rules; an ended run is handed off to finalize, a run elsewhere skipped', async (t) => {
  const { store, connectorId } = await setup(t);
  const partial = await runIn(store, connectorId, 'partial', { error: { class: 'RUN_INCOMPLETE', message: '1 of 2 batches failed', stage: 'finalize', at: new Date() } });
  const w = await claimStage(store, partial, 'write');
  t.equal(w.status, 'claimed');
  t.equal(w.status === 'claimed' && w.revived, true, 'a retried batch revives a partial run');
  t.equal((await getRun(store, partial)).state, 'writing');

  const incomplete = await runIn(store, await connector(store), 'failed', { error: { class: 'RUN_INCOMPLETE', message: 'not read to its end', stage: 'finalize', at: new Date() } });
  const f1 = await claimStage(store, incomplete, 'finalize');
  t.equal(f1.status, 'handed-off', 'an incomplete run\'s own end is not revived by finalize');
  t.equal((await getRun(store, incomplete)).resumes, 0);

  const broken = await runIn(store, await connector(store), 'failed', { error: { class: 'MongoServerError', message: 'down', stage: 'finalize', at: new Date() } });
  const f2 = await claimStage(store, broken, 'finalize');
  t.equal(f2.status, 'claimed', 'a run its finalize failed is finalized again');
  t.equal((await getRun(store, broken)).state, 'writing');

  const queued = await runIn(store, connectorId, 'queued');
  const f3 = await claimStage(store, queued, 'finalize');
  t.equal(f3.status, 'skipped');
  t.equal((await claimStage(store, queued, 'write')).status, 'skipped', 'no batch is written for a run not parsed yet');
  const ended = await runIn(store, connectorId, 'succeeded');
  t.equal((await claimStage(store, ended, 'fetch')).status, 'skipped');
  t.equal((await claimStage(store, ended, 'finalize')).status, 'handed-off', 'a finished run\'s finalize retried only goes on with its sync');
});

t.test('failParse hands the run to writing with an incomplete parse, its staged batches counted; failRun does not touch an ended run', async (t) => {
  const { store, connectorId } = await setup(t);
  const runId = await runIn(store, connectorId, 'parsing', { file });
  await stageBatch(store, runId, 0, [], []);
  await stageBatch(store, runId, 1, [], []);
  const run = await failParse(store, runId, { class: 'ReportError', message: 'cut' });
  t.match(run, { state: 'writing', parse: { complete: false, batches: 2 }, error: { class: 'ReportError', stage: 'parse' } });
  t.match(await failParse(store, runId, { class: 'ReportError', message: 'cut' }), { state: 'writing', parse: { batches: 2 } }, 'again: counted again, nothing else');
  const ended = await runIn(store, connectorId, 'succeeded');
  t.equal(await failParse(store, ended, { class: 'Error', message: 'late' }), null, 'a run not parsing is left alone');
  t.equal(await failRun(store, ended, { class: 'Error', message: 'late', stage: 'finalize' }), null);
  t.equal((await getRun(store, ended)).state, 'succeeded');
});
