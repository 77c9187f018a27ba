/**
 * Recurring syncs: a re-sync classifies each finding as new / unchanged / changed; unchanged costs no
 * statement, changes wait for finalize (status changes only for a complete run), and both database modes
 * (db-mode.ts) end with the same documents.
 */
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { constants, deflateRawSync } from 'node:zlib';
import { Binary, BSON, type CommandStartedEvent } from 'mongodb';
import { testMongo, type Teardown } from '@qpc/testing';
import { createSecretBox } from '@qpc/secrets';
import type { FindingRecord, HostRecord } from '@qpc/pc-report';
import { createStore, ensureIndexes, detectDbMode, slotOf, type DbMode, type FindingDoc, type RunDoc, type Store } from '../src/db.ts';
import { createConnector } from '../src/connectors.ts';
import { advanceRun, createRun, finalizeRun, markBatchDone, stageBatch, getRun } from '../src/pipeline.ts';
import { changedDoc, forgetSnapshot, seenByRun, writeBatch, keyHash, hasHash, decodeChanges } from '../src/inventory.ts';
import { finding, host } from './fixtures.ts';

const box = createSecretBox({ keys: { k1: randomBytes(32) }, currentKeyId: 'k1' });

async function setup(t: Teardown, mode: DbMode) {
  const { db, client } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db, { mode, bulkSize: 7 });
  const c = await createConnector(store, box, {
    name: `c-${randomUUID()}`, url: 'http://127.0.0.1:1', username: 'u', password: 'canary-pw', network: 'net', reportTitlePrefix: 'QPC', autoUrba: true,
  });
  return { store, client, connectorId: c._id };
}

/** One report as a run ingests it, in batches of 7; `complete: false` ends it partial. */
async function ingest(store: Store, connectorId: string, hosts: HostRecord[], findings: FindingRecord[], opts: { complete?: boolean; finalize?: boolean; maxHeldChanges?: number; capacity?: number } = {}): Promise<RunDoc> {
  const runId = randomUUID();
  await createRun(store, { _id: runId, connectorId, syncId: runId, trigger: 'on-demand', network: 'net', index: 0, report: { id: runId, title: 'QPC x', launchedAt: new Date() }, state: 'queued' });
  await advanceRun(store, runId, ['queued'], 'parsing');
  let seq = 0;
  for (let i = 0; i < findings.length; i += 7, seq++) {
    const fs = findings.slice(i, i + 7);
    const hs = hosts.filter((h) => fs.some((f) => f.hostKey === h.hostKey && f.policyId === h.policyId));
    await stageBatch(store, runId, seq, hs, fs);
    const r = await writeBatch(store, { runId, network: 'net' }, hs, fs);
    await markBatchDone(store, runId, seq, r);
  }
  await store.col.runs.updateOne({ _id: runId }, { $set: { parse: { complete: opts.complete ?? true, batches: seq, summary: { hosts: hosts.length, findings: findings.length, rejected: 0 } } } });
  await advanceRun(store, runId, ['parsing'], 'writing');
  if (opts.finalize === false) return getRun(store, runId);
  const run = await finalizeRun(store, runId, { maxHeldChanges: opts.maxHeldChanges, capacity: opts.capacity });
  forgetSnapshot(runId);
  return run;
}

const hosts = Array.from({ length: 5 }, (_, i) => host(i));
const controls = ['1', '2', '3', '4', '5', '6', '7', '8'];
const report = (status: (h: number, c: string) => 'Passed' | 'Failed' | 'Error', keep: (h: number, c: string) => boolean = () => true) =>
  hosts.flatMap((h, hi) => controls.filter((c) => keep(hi, c)).map((c) => finding(h, c, status(hi, c))));
const first = report((h, c) => (Number(c) % 2 ? 'Failed' : 'Passed'));
// control 1: Failed -> Error (content only); control 2: Passed -> Failed (reopen); control 3: Failed -> Passed (close);
// control 7 (Failed: Open) dropped on host 0 (URBA)
const second = report(
  (h, c) => (c === '1' ? 'Error' : c === '2' ? 'Failed' : c === '3' ? 'Passed' : Number(c) % 2 ? 'Failed' : 'Passed'),
  (h, c) => !(h === 0 && c === '7'),
);

/** The findings without what differs between two databases (write dates, run ids). */
async function comparable(store: Store) {
  const docs = await store.col.findings.find({}).sort({ findingKey: 1 }).toArray();
  return docs.map((d) => ({
    key: d.findingKey, status: d.status, testStatus: d.testStatus, contentHash: d.contentHash, closedReason: d.closedReason, reopenCount: d.reopenCount,
    statusReason: d.statusReason, history: d.history.map((h) => [h.from, h.to, h.reason]), actual: d.actual,
  }));
}

const endState: Partial<Record<DbMode, unknown>> = {};
for (const mode of ['mongodb', 'ferretdb'] as const) {
  t.test(`${mode} mode: a re-sync writes only what changed; an identical one writes nothing`, async (t) => {
    const { store, client, connectorId } = await setup(t, mode);
    const r1 = await ingest(store, connectorId, hosts, first);
    t.equal(r1.state, 'succeeded');
    t.match(r1.counts, { findingsCreated: 40, findingsUnchanged: 0, findingsChanged: 0, docsWritten: 40 }, 'first sync: 40 created, 40 documents written');

    const r2 = await ingest(store, connectorId, hosts, second);
    t.equal(r2.state, 'succeeded');
    t.match(
      r2.counts,
      { findingsCreated: 0, findingsChanged: 15, findingsUnchanged: 24, findingsClosed: 5, findingsReopened: 5, urbaClosed: 1, docsWritten: 16 },
      're-sync: 15 changed (5 content, 5 closed, 5 reopened), 24 unchanged, 1 closed by URBA: 16 documents written',
    );
    const c1 = await store.col.findings.findOne({ hostKey: hosts[0]!.hostKey, controlId: '1' });
    t.match(c1, { testStatus: 'Error', status: 'Open', history: [{ reason: 'new' }] }, 'Failed -> Error: content written, status kept, no history entry');
    t.equal(c1?.history.length, 1);
    const c2 = await store.col.findings.findOne({ hostKey: hosts[1]!.hostKey, controlId: '2' });
    t.match(c2, { status: 'Open', reopenCount: 1, statusRunId: r2._id }, 'reopened by the re-sync');
    t.same(c2?.history.map((h) => h.reason), ['new', 'reopened']);
    const c7 = await store.col.findings.findOne({ hostKey: hosts[0]!.hostKey, controlId: '7' });
    t.match(c7, { status: 'Closed', closedReason: 'urba' }, 'the dropped finding closed by URBA');
    const unchanged = await store.col.findings.findOne({ hostKey: hosts[2]!.hostKey, controlId: '5' });
    t.equal(unchanged?.lastSeenRunId, r1._id, 'an unchanged finding is not written');
    const a = await store.col.assessments.findOne({ hostKey: hosts[2]!.hostKey });
    t.equal(a?.runId, r2._id, 'its host x policy carries the run that saw it');
    t.ok(a?.at instanceof Date, 'with the date');
    endState[mode] = await comparable(store);

    // an identical sync: no statement on the findings but reads
    const writes: string[] = [];
    const onCommand = (e: CommandStartedEvent) => {
      if (['insert', 'update', 'delete'].includes(e.commandName) && e.command[e.commandName] === 'findings') writes.push(e.commandName);
    };
    client.on('commandStarted', onCommand);
    const r3 = await ingest(store, connectorId, hosts, second);
    client.off('commandStarted', onCommand);
    t.equal(r3.state, 'succeeded');
    t.match(r3.counts, { findingsUnchanged: 39, findingsChanged: 0, docsWritten: 0, findingsClosed: 0, findingsReopened: 0, urbaClosed: 0 }, 'identical: 39 unchanged, nothing written');
    t.same(writes, [], 'no insert, update or delete on the findings');
  });
}

t.test('both modes end with the same findings', async (t) => {
  t.ok(endState.mongodb, 'the mongodb mode ran');
  t.same(endState.ferretdb, endState.mongodb, 'ferretdb mode = mongodb mode');
});

t.test('an incomplete re-sync writes content changes, and closes and reopens nothing', async (t) => {
  for (const mode of ['mongodb', 'ferretdb'] as const) {
    const { store, connectorId } = await setup(t, mode);
    await ingest(store, connectorId, hosts, first);
    const before = await comparable(store);
    const cut = await ingest(store, connectorId, hosts, second, { complete: false });
    t.equal(cut.state, 'partial', `${mode}: partial`);
    t.match(cut.counts, { findingsClosed: 0, findingsReopened: 0, urbaClosed: 0, docsWritten: 5 }, `${mode}: only the 5 content changes written`);
    const after = await comparable(store);
    const changed = after.filter((f, i) => JSON.stringify(f) !== JSON.stringify(before[i]));
    t.equal(changed.length, 5, `${mode}: 5 findings changed`);
    t.ok(changed.every((f) => f.testStatus === 'Error' && f.status === 'Open' && f.history.length === 1), `${mode}: Failed -> Error only, no status change`);
  }
});

t.test('a finalize applied twice, or after a kill between delete and insert (ferretdb journal), gives the same findings', async (t) => {
  const { store, connectorId } = await setup(t, 'ferretdb');
  await ingest(store, connectorId, hosts, first);
  const run = await ingest(store, connectorId, hosts, second, { finalize: false });
  // what the kill left: the journal of a chunk written, its documents deleted, not yet inserted again
  const marks = await store.col.batches.find({ runId: run._id }).toArray();
  const changes = marks.flatMap((b) => decodeChanges(b.done?.changes, b._id));
  t.equal(changes.length, 15, '15 changes staged');
  const now = new Date();
  const docs = await store.col.findings.find({ _id: { $in: changes.map((c) => c.i) } }).toArray();
  const next = docs.map((d) => changedDoc(d, changes.find((c) => c.i === d._id)!, run._id, now, true)).filter((d): d is FindingDoc => d !== null);
  await store.col.rewrites.insertOne({ _id: `${run._id}:killed`, runId: run._id, docs: new Binary(deflateRawSync(BSON.serialize({ docs: next }), { level: constants.Z_BEST_SPEED })), at: now });
  await store.col.findings.deleteMany({ _id: { $in: next.map((d) => d._id) } });
  t.equal(await store.col.findings.countDocuments({}), 40 - next.length, 'the chunk is missing');

  const done = await finalizeRun(store, run._id);
  t.equal(done.state, 'succeeded');
  t.equal(await store.col.rewrites.countDocuments({}), 0, 'the journal replayed and removed');
  t.match(done.counts, { findingsClosed: 5, findingsReopened: 5, urbaClosed: 1 }, 'each change applied once');
  const once = await comparable(store);
  t.ok(once.every((f) => f.history.length <= 2), 'no history entry twice');

  // the reference: the same two syncs, undisturbed (the ferretdb mode test above)
  t.same(once, endState.ferretdb, 'equal to an undisturbed run');
});

t.test('the mode is asked of the server: FerretDB says so in buildInfo', async (t) => {
  const { store } = await setup(t, 'mongodb');
  const info = await store.db.admin().command({ buildInfo: 1 });
  const ferret = typeof info.ferretdbVersion === 'string';
  t.comment(`server: ${ferret ? `FerretDB ${info.ferretdbVersion}` : `MongoDB ${info.version}`}`);
  t.equal(await detectDbMode(store.db), ferret ? 'ferretdb' : 'mongodb');
});

t.test('the keys a run saw: every finding of its batches, 8 bytes each', async (t) => {
  const { store, connectorId } = await setup(t, 'mongodb');
  const run = await ingest(store, connectorId, hosts, second, { finalize: false });
  const seen = await seenByRun(store, run._id);
  t.equal(seen.length, 39);
  t.ok(second.every((f) => hasHash(seen, keyHash(f.findingKey))), 'each key found');
  t.notOk(hasHash(seen, keyHash(first.find((f) => f.hostKey === hosts[0]!.hostKey && f.controlId === '7')!.findingKey)), 'the dropped one is not');
});

for (const maxHeldChanges of [undefined, 4]) {
  const how = maxHeldChanges ? ', read and rewritten slot by slot (more changes than it holds)' : '';
  t.test(`ferretdb mode: a re-sync of findings written before they had a slot changes and URBA-closes them like the others${how}`, async (t) => {
    const { store, connectorId } = await setup(t, 'ferretdb');
    await ingest(store, connectorId, hosts, first);
    // documents as an earlier version wrote them (no slot field): half of them
    const old = (await store.col.findings.find({}, { projection: { _id: 1 } }).sort({ findingKey: 1 }).toArray()).filter((_, i) => i % 2 === 0);
    const unset = await store.col.findings.updateMany({ _id: { $in: old.map((d) => d._id) } }, { $unset: { slot: '' } });
    t.equal(unset.modifiedCount, 20, '20 of the 40 findings without a slot');
    const r2 = await ingest(store, connectorId, hosts, second, { maxHeldChanges });
    t.equal(r2.state, 'succeeded');
    t.match(r2.counts, { findingsChanged: 15, findingsClosed: 5, findingsReopened: 5, urbaClosed: 1, docsWritten: 16 }, 'the same counts as with slots');
    t.same(await comparable(store), endState.ferretdb, 'the same findings as a database written with slots');
    t.equal(await store.col.findings.countDocuments({}), 40, 'no finding twice');
    const slotted = await store.col.findings.find({ slot: { $exists: true } }, { projection: { _id: 1, slot: 1 } }).toArray();
    t.ok(slotted.every((d) => d.slot === slotOf(d._id)), 'every slot is the one of its _id');
  });
}

t.test('slotOf: 0-7 from the first hex digits of a finding _id, null for an _id of another shape', async (t) => {
  t.equal(slotOf('ff0000000000000000000000'), 7);
  t.equal(slotOf('4100000000000000000000ab'), 1);
  t.equal(slotOf('not-an-id'), null);
});

t.test('a run on FerretDB beyond the measured capacity records a warning naming MongoDB and docker compose; on MongoDB none', async (t) => {
  for (const mode of ['ferretdb', 'mongodb'] as const) {
    const { store, connectorId } = await setup(t, mode);
    const within = await ingest(store, connectorId, hosts, first, { capacity: 40 });
    t.equal(within.capacity ?? null, null, `${mode}: 40 findings within a capacity of 40: no warning`);
    const beyond = await ingest(store, connectorId, hosts, second, { capacity: 30 });
    if (mode === 'mongodb') {
      t.equal(beyond.capacity ?? null, null, 'mongodb: no warning whatever the size');
      continue;
    }
    t.match(beyond.capacity, { findings: 39, limit: 30 }, 'ferretdb: 39 findings beyond 30');
    t.match(beyond.capacity?.message, /39 findings.*MongoDB.*docker compose up/s, 'the message names MongoDB and docker compose up');
    t.equal(beyond.state, 'succeeded', 'the run itself succeeds');
  }
});
