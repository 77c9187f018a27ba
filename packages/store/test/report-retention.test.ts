import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { testMongo, type Teardown } from '@qpc/testing';
import { createSecretBox } from '@qpc/secrets';
import { createStore, ensureIndexes, REPORT_BUCKET, type RunState, type Store } from '../src/db.ts';
import { createConnector } from '../src/connectors.ts';
import { advanceRun, createRun, finalizeRun, reviveRun } from '../src/pipeline.ts';
import { pruneReportFiles, reportFileId, saveReportFile, usableReportFile } from '../src/files.ts';

const box = createSecretBox({ keys: { k1: randomBytes(32) }, currentKeyId: 'k1' });
const T0 = Date.UTC(2026, 0, 1);

async function setup(t: Teardown) {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const connector = async () =>
    (await createConnector(store, box, { name: `c-${randomUUID()}`, url: 'http://127.0.0.1:1', username: 'u', password: 'pw', network: 'net', reportTitlePrefix: 'QPC' }))._id;
  return { store, connectorId: await connector(), connector };
}

const files = (store: Store) => store.db.collection<{ _id: string; uploadDate: Date; metadata?: Record<string, unknown> }>(`${REPORT_BUCKET}.files`);
const chunks = (store: Store) => store.db.collection(`${REPORT_BUCKET}.chunks`);

/** Store a report file as the fetch stage does (metadata names run, report, connector), downloaded at T0 + minute. */
async function storeFile(store: Store, connectorId: string, runId: string, reportId: string, minute: number, opts: { record?: boolean } = {}) {
  const id = reportFileId(runId);
  const data = randomBytes(300 * 1024); // two GridFS chunks
  const stored = await saveReportFile(store, id, Readable.from([data]), { metadata: { runId, reportId, connectorId } });
  await files(store).updateOne({ _id: id }, { $set: { uploadDate: new Date(T0 + minute * 60_000) } });
  if (opts.record !== false) await store.col.runs.updateOne({ _id: runId }, { $set: { file: { ...stored, etag: null } } });
  return id;
}

/** A run of `reportId` whose file was downloaded at `minute`, left in `state`; a succeeded one is recorded as ingested. */
async function runWithFile(store: Store, connectorId: string, reportId: string, minute: number, state: RunState) {
  const runId = randomUUID();
  await createRun(store, { _id: runId, connectorId, syncId: runId, trigger: 'schedule', network: 'net', index: 0, report: { id: reportId, title: 'QPC x', launchedAt: null }, state: 'queued' });
  const fileId = await storeFile(store, connectorId, runId, reportId, minute);
  await store.col.runs.updateOne({ _id: runId }, { $set: { state } });
  if (state === 'succeeded') {
    await store.col.reports.updateOne(
      { _id: `${connectorId}:${reportId}` },
      { $set: { connectorId, reportId, title: 'QPC x', launchedAt: null, runId, fileId, length: 1, sha256: '', ingestedAt: new Date() } },
      { upsert: true },
    );
  }
  return { runId, fileId };
}

/** A run that finalizes to `succeeded` with nothing to write (the report doc is written by finalizeRun). */
async function finalizeEmpty(store: Store, runId: string) {
  await advanceRun(store, runId, ['queued', 'fetching', 'failed'], 'parsing');
  await store.col.runs.updateOne({ _id: runId }, { $set: { parse: { complete: true, batches: 0, summary: { hosts: 0, findings: 0, rejected: 0 } } } });
  await advanceRun(store, runId, ['parsing'], 'writing');
  return finalizeRun(store, runId);
}

t.test('keeps the newest N reports and what runs in progress need; marks runs and reports; idempotent', async (t) => {
  const { store, connectorId, connector } = await setup(t);
  const r1 = await runWithFile(store, connectorId, 'R1', 1, 'succeeded');
  const r2 = await runWithFile(store, connectorId, 'R2', 2, 'succeeded');
  const r3 = await runWithFile(store, connectorId, 'R3', 3, 'failed'); // ended: may be retried, counts like any other
  const r4 = await runWithFile(store, connectorId, 'R4', 4, 'succeeded');
  const r5 = await runWithFile(store, connectorId, 'R5', 5, 'parsing'); // in progress
  const r6 = await runWithFile(store, connectorId, 'R4', 6, 'succeeded'); // R4 re-ingested: newer copy
  const r7 = await runWithFile(store, connectorId, 'R0', 0, 'writing'); // in progress, oldest download
  // a download still being written for a queued run: chunks only, no file document yet
  const r8 = randomUUID();
  await createRun(store, { _id: r8, connectorId, syncId: r8, trigger: 'schedule', network: 'net', index: 0, report: { id: 'R8', title: 'QPC x', launchedAt: null }, state: 'queued' });
  await chunks(store).insertOne({ files_id: reportFileId(r8), n: 0, data: Buffer.from('partial') });
  // other connectors' files and files without metadata are not this connector's
  const other = await connector();
  const o1 = await runWithFile(store, other, 'R1', 0, 'succeeded');
  await saveReportFile(store, 'loose', Readable.from([Buffer.from('x')]));

  const res = await pruneReportFiles(store, connectorId, { keep: 2, pageSize: 2, now: new Date(T0 + 3600_000) });
  t.same(res, { kept: 2, inUse: 2, removed: 3 });
  const left = new Set((await files(store).find({}).toArray()).map((f) => f._id));
  t.same(left, new Set([r6.fileId, r3.fileId, r5.fileId, r7.fileId, o1.fileId, 'loose']), 'R4 (newest copy) and R3 kept, runs in progress keep theirs');
  for (const gone of [r1, r2, r4]) {
    t.equal(await chunks(store).countDocuments({ files_id: gone.fileId }), 0, `chunks of ${gone.fileId} removed`);
    const run = await store.col.runs.findOne({ _id: gone.runId });
    t.same(run?.file?.purgedAt, new Date(T0 + 3600_000), 'the run records when its file went');
    t.equal(run?.file?.id, gone.fileId, 'and still says which file it read');
    t.equal(await usableReportFile(store, run?.file ?? null), false, 'a fetch of this run would download again');
  }
  t.equal(await chunks(store).countDocuments({ files_id: reportFileId(r8) }), 1, 'an upload in progress is untouched');
  t.equal(await chunks(store).countDocuments({ files_id: r3.fileId }), 2);
  const reports = new Map((await store.col.reports.find({ connectorId }).toArray()).map((r) => [r.reportId, r]));
  t.equal(reports.get('R1')?.fileId, null);
  t.same(reports.get('R1')?.filePurgedAt, new Date(T0 + 3600_000));
  t.equal(reports.get('R2')?.fileId, null);
  t.equal(reports.get('R4')?.fileId, r6.fileId, 'the report record points at the kept copy');
  t.equal(reports.get('R4')?.filePurgedAt, undefined);
  t.equal((await store.col.reports.findOne({ connectorId: other }))?.fileId, o1.fileId, 'other connector untouched');
  t.equal((await store.col.runs.findOne({ _id: r6.runId }))?.file?.purgedAt, undefined);

  const again = await pruneReportFiles(store, connectorId, { keep: 2, now: new Date(T0 + 7200_000) });
  t.same(again, { kept: 2, inUse: 2, removed: 0 }, 'a second sweep removes nothing');
  t.same((await store.col.runs.findOne({ _id: r1.runId }))?.file?.purgedAt, new Date(T0 + 3600_000), 'first removal time kept');

  // the runs in progress end: their files now count too (newest first: R4 copy, R5)
  await store.col.runs.updateMany({ _id: { $in: [r5.runId, r7.runId] } }, { $set: { state: 'succeeded' } });
  const after = await pruneReportFiles(store, connectorId, { keep: 2 });
  t.same(after, { kept: 2, inUse: 0, removed: 2 });
  t.same(new Set((await files(store).find({ 'metadata.connectorId': connectorId }).toArray()).map((f) => f._id)), new Set([r6.fileId, r5.fileId]));
});

t.test('retention 0: an ended run keeps no file; a re-ingest downloads again and is recorded', async (t) => {
  const { store, connectorId } = await setup(t);
  const a = randomUUID();
  await createRun(store, { _id: a, connectorId, syncId: a, trigger: 'schedule', network: 'net', index: 0, report: { id: 'R1', title: 'QPC x', launchedAt: null }, state: 'queued' });
  await storeFile(store, connectorId, a, 'R1', 1);
  const done = await finalizeEmpty(store, a);
  t.equal(done.state, 'succeeded');
  t.equal((await store.col.reports.findOne({ _id: `${connectorId}:R1` }))?.fileId, reportFileId(a));

  t.same(await pruneReportFiles(store, connectorId, { keep: 0 }), { kept: 0, inUse: 0, removed: 1 });
  const rep = await store.col.reports.findOne({ _id: `${connectorId}:R1` });
  t.equal(rep?.fileId, null);
  t.type(rep?.filePurgedAt, Date);
  t.equal(rep?.length, 300 * 1024, 'what was ingested stays recorded');
  t.equal(await files(store).countDocuments({}), 0);
  t.equal(await chunks(store).countDocuments({}), 0);

  // re-ingest: a new run of the same report has its own file id, finds none stored, downloads
  const b = randomUUID();
  await createRun(store, { _id: b, connectorId, syncId: b, trigger: 'on-demand', network: 'net', index: 0, report: { id: 'R1', title: 'QPC x', launchedAt: null }, state: 'queued' });
  t.equal(await usableReportFile(store, (await store.col.runs.findOne({ _id: b }))?.file ?? null), false);
  await storeFile(store, connectorId, b, 'R1', 2);
  t.equal(await usableReportFile(store, (await store.col.runs.findOne({ _id: b }))?.file ?? null), true, 'a retried fetch would skip the download');
  t.same(await pruneReportFiles(store, connectorId, { keep: 0 }), { kept: 0, inUse: 1, removed: 0 }, 'not while the run is in progress');
  const b2 = await finalizeEmpty(store, b);
  t.equal(b2.state, 'succeeded');
  const rep2 = await store.col.reports.findOne({ _id: `${connectorId}:R1` });
  t.equal(rep2?.fileId, reportFileId(b));
  t.equal(rep2?.filePurgedAt, null, 'the record says the file is back');
  t.equal(rep2?.runId, b);
});

t.test('a run revived after its file was removed: finalize records the file as gone; fetch downloads again', async (t) => {
  const { store, connectorId } = await setup(t);
  const { runId, fileId } = await runWithFile(store, connectorId, 'R1', 1, 'partial');
  await store.col.runs.updateOne({ _id: runId }, { $set: { parse: { complete: true, batches: 0, summary: { hosts: 0, findings: 0, rejected: 0 } } } });
  t.equal((await pruneReportFiles(store, connectorId, { keep: 0 })).removed, 1);
  const revived = await reviveRun(store, runId, 'writing');
  t.equal(revived?.state, 'writing');
  t.type(revived?.file?.purgedAt, Date, 'a revived run still knows its file is gone (parse refuses, fetch downloads)');
  t.equal(await usableReportFile(store, revived?.file ?? null), false);
  const done = await finalizeRun(store, runId);
  t.equal(done.state, 'succeeded');
  const rep = await store.col.reports.findOne({ _id: `${connectorId}:R1` });
  t.equal(rep?.fileId, null, 'no pointer to a removed file');
  t.type(rep?.filePurgedAt, Date);
  // a fetch that stores the file again replaces the record whole: no purge mark left
  await storeFile(store, connectorId, runId, 'R1', 2);
  const run = await store.col.runs.findOne({ _id: runId });
  t.equal(run?.file?.id, fileId);
  t.equal(run?.file?.purgedAt, undefined);
  t.equal(await usableReportFile(store, run?.file ?? null), true);
});

t.test('a file whose mark was written but whose removal was cut is removed by the next sweep', async (t) => {
  const { store, connectorId } = await setup(t);
  const old = await runWithFile(store, connectorId, 'R1', 1, 'succeeded');
  await runWithFile(store, connectorId, 'R2', 2, 'succeeded');
  // as if a sweep marked the run and removed the chunks, then died before the file document
  await store.col.runs.updateOne({ _id: old.runId }, { $set: { 'file.purgedAt': new Date(T0) } });
  await chunks(store).deleteMany({ files_id: old.fileId });
  t.same(await pruneReportFiles(store, connectorId, { keep: 1 }), { kept: 1, inUse: 0, removed: 1 });
  t.equal(await files(store).countDocuments({ _id: old.fileId }), 0);
  t.same((await store.col.runs.findOne({ _id: old.runId }))?.file?.purgedAt, new Date(T0), 'first mark kept');
  t.equal((await store.col.reports.findOne({ _id: `${connectorId}:R1` }))?.fileId, null);
});
