import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { testMongo, type Teardown } from '@qpc/testing';
import { createSecretBox } from '@qpc/secrets';
import type { FindingRecord, HostRecord } from '@qpc/pc-report';
import { createStore, ensureIndexes, type Store } from '../src/db.ts';
import { createConnector } from '../src/connectors.ts';
import { createRun, advanceRun, stageBatch, markBatchDone, finalizeRun, acquireSyncLock, releaseSyncLock } from '../src/pipeline.ts';
import { writeBatch, resolveHostIdentities } from '../src/inventory.ts';
import { saveReportFile, openReportFile } from '../src/files.ts';
import { finding, host } from './fixtures.ts';

const box = createSecretBox({ keys: { k1: randomBytes(32) }, currentKeyId: 'k1' });

async function setup(t: Teardown, autoUrba = true) {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const c = await createConnector(store, box, {
    name: `c-${randomUUID()}`, url: 'http://127.0.0.1:1', username: 'u', password: 'canary-pw', network: 'net', reportTitlePrefix: 'QPC', autoUrba,
  });
  return { store, connectorId: c._id };
}

/** Ingest one "report" (hosts + findings) as a run would, in batches of `size` findings. */
async function ingest(
  store: Store,
  connectorId: string,
  hosts: HostRecord[],
  findings: FindingRecord[],
  opts: { size?: number; complete?: boolean; failBatch?: number; /** written twice, the first write unrecorded (a crash) */ rewriteBatch?: number; /** done marks without the counts finalize can use instead of reading the findings */ bareMarks?: boolean } = {},
) {
  const runId = randomUUID();
  await createRun(store, { _id: runId, connectorId, syncId: runId, trigger: 'on-demand', network: 'net', index: 0, report: { id: runId, title: 'QPC x', launchedAt: new Date() }, state: 'queued' });
  await advanceRun(store, runId, ['queued'], 'parsing');
  const size = opts.size ?? 7;
  let seq = 0;
  const hostOf = new Map(hosts.map((h) => [h.hostKey + '|' + h.policyId, h]));
  for (let i = 0; i < Math.max(findings.length, 1); i += size) {
    const fs = findings.slice(i, i + size);
    const hs = i === 0 ? hosts : [...new Set(fs.map((f) => hostOf.get(f.hostKey + '|' + f.policyId)).filter((h): h is HostRecord => !!h))];
    await stageBatch(store, runId, seq, hs, fs);
    await resolveHostIdentities(store, { runId, network: 'net' }, hs);
    if (opts.failBatch !== seq) {
      if (opts.rewriteBatch === seq) await writeBatch(store, { runId, network: 'net' }, hs, fs);
      const r = await writeBatch(store, { runId, network: 'net' }, hs, fs);
      const staged = { seen: r.seen, changes: r.changes };
      await markBatchDone(store, runId, seq, opts.bareMarks ? { hosts: r.hosts, findings: r.findings, ...staged } : { ...r });
    }
    seq++;
  }
  await store.col.runs.updateOne({ _id: runId }, { $set: { parse: { complete: opts.complete ?? true, batches: seq, summary: { hosts: hosts.length, findings: findings.length, rejected: 0 } } } });
  await advanceRun(store, runId, ['parsing'], 'writing');
  return finalizeRun(store, runId);
}

const hosts = Array.from({ length: 10 }, (_, i) => host(i));
const controls = ['1', '2', '3', '4'];
const all = (status: (h: number, c: string) => 'Passed' | 'Failed' | 'Error') =>
  hosts.flatMap((h, hi) => controls.map((c) => finding(h, c, status(hi, c))));

t.test('first ingest creates, re-ingest changes nothing, flips close and reopen with history', async (t) => {
  const { store, connectorId } = await setup(t, false);
  const r1 = await ingest(store, connectorId, hosts, all((h, c) => (c === '1' ? 'Passed' : 'Failed')));
  t.equal(r1.state, 'succeeded');
  t.equal(r1.counts.hostsCreated, 10);
  t.equal(r1.counts.findingsCreated, 40);
  t.equal(await store.col.findings.countDocuments({ status: 'Open' }), 30);
  const snapshot = await store.col.findings.find({}, { projection: { lastSeen: 0, lastSeenRunId: 0 } }).sort({ _id: 1 }).toArray();

  const r2 = await ingest(store, connectorId, hosts, all((h, c) => (c === '1' ? 'Passed' : 'Failed')));
  t.equal(r2.counts.findingsCreated, 0);
  t.equal(r2.counts.findingsUpdated, 40);
  t.equal(r2.counts.findingsClosed + r2.counts.findingsReopened, 0);
  const again = await store.col.findings.find({}, { projection: { lastSeen: 0, lastSeenRunId: 0 } }).sort({ _id: 1 }).toArray();
  t.same(again, snapshot, 'identical re-ingest changes nothing but last seen');

  const r3 = await ingest(store, connectorId, hosts, all((h, c) => (c === '1' ? 'Failed' : c === '2' ? 'Passed' : 'Failed')));
  t.equal(r3.counts.findingsReopened, 10);
  t.equal(r3.counts.findingsClosed, 10);
  const f = await store.col.findings.findOne({ hostKey: hosts[0]!.hostKey, controlId: '1' });
  t.equal(f?.status, 'Open');
  t.equal(f?.reopenCount, 1);
  t.same(f?.history.map((h) => h.reason), ['new', 'reopened']);
  t.equal(f?.history[1]?.runId, r3._id);
  const closed = await store.col.findings.findOne({ hostKey: hosts[0]!.hostKey, controlId: '2' });
  t.equal(closed?.closedReason, 'passed');
  t.equal(closed?.testStatus, 'Passed');
});

t.test('an incomplete run closes and reopens nothing', async (t) => {
  const { store, connectorId } = await setup(t);
  await ingest(store, connectorId, hosts, all(() => 'Failed'));
  const cut = await ingest(store, connectorId, hosts, all(() => 'Passed').slice(0, 20), { complete: false });
  t.equal(cut.state, 'partial');
  t.equal(cut.counts.findingsClosed, 0);
  t.equal(cut.urba?.closed, 0);
  t.equal(await store.col.findings.countDocuments({ status: 'Open' }), 40);
  t.equal(await store.col.findings.countDocuments({ pending: { $ne: null } }), 0, 'parked changes dropped');
  const failed = await ingest(store, connectorId, hosts, all(() => 'Passed'), { failBatch: 2 });
  t.equal(failed.state, 'partial');
  t.equal(await store.col.findings.countDocuments({ status: 'Open' }), 40);
});

t.test('URBA: closes only assessed host x policy findings absent from the report; guard rails', async (t) => {
  const { store, connectorId } = await setup(t);
  const p2 = hosts.map((h, i) => host(i, 'P2'));
  const base = [...all(() => 'Failed'), ...p2.map((h) => finding(h, '9', 'Failed'))];
  await ingest(store, connectorId, [...hosts, ...p2], base);
  t.equal(await store.col.findings.countDocuments({ status: 'Open' }), 50);

  // identical re-ingest closes 0
  const same = await ingest(store, connectorId, [...hosts, ...p2], base);
  t.equal(same.urba?.closed, 0);
  // empty report closes 0
  const empty = await ingest(store, connectorId, [], []);
  t.equal(empty.urba?.closed, 0);
  t.equal(empty.urba?.decision, 'skipped');
  // control 4 removed on hosts 0-4 (P1 only); hosts 5-9 absent from the report entirely
  const assessed = hosts.slice(0, 5);
  const next = assessed.flatMap((h) => ['1', '2', '3'].map((c) => finding(h, c, 'Failed')));
  const r = await ingest(store, connectorId, assessed, next);
  t.equal(r.state, 'succeeded');
  t.equal(r.urba?.decision, 'applied');
  t.equal(r.counts.urbaClosed, 5, 'exactly the 5 removed findings');
  const closed = await store.col.findings.find({ closedReason: 'urba' }).toArray();
  t.same(new Set(closed.map((f) => f.controlId)), new Set(['4']));
  t.ok(closed.every((f) => assessed.some((h) => h.hostKey === f.hostKey)), 'only hosts in the report');
  t.equal(await store.col.findings.countDocuments({ policyId: 'P2', status: 'Open' }), 10, 'other policies untouched');

  // threshold: a report keeping one control of one host would close > 50%
  const tiny = await ingest(store, connectorId, hosts, [finding(hosts[0]!, '1', 'Failed')]);
  t.equal(tiny.urba?.decision, 'threshold');
  t.equal(tiny.review, true);
  t.equal(tiny.counts.urbaClosed, 0);
  t.ok((tiny.urba?.sample.length ?? 0) > 0);
});

t.test('host first seen by IP, then with a host id and the same IP, is the same host', async (t) => {
  const { store, connectorId } = await setup(t, false);
  const byIp = host(1, 'P1', { qid: null, ip: '10.9.9.9' });
  await ingest(store, connectorId, [byIp], [finding(byIp, '1', 'Failed')]);
  const withId = host(1, 'P1', { qid: '777', ip: '10.9.9.9' });
  const r = await ingest(store, connectorId, [withId], [finding(withId, '1', 'Failed')]);
  t.equal(await store.col.hosts.countDocuments({}), 1);
  t.equal(await store.col.findings.countDocuments({}), 1);
  const h = await store.col.hosts.findOne({});
  t.equal(h?.hostKey, 'qid:777');
  t.same(h?.aliases, ['ip:10.9.9.9']);
  t.equal(r.counts.findingsCreated, 0);
});

t.test('report files: whole file kept with its checksum; a mismatch is refused', async (t) => {
  const { store } = await setup(t);
  const data = randomBytes(700_000);
  const f = await saveReportFile(store, 'f1', Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { expectedLength: data.length });
  t.equal(f.length, data.length);
  const chunks: Buffer[] = [];
  for await (const c of openReportFile(store, 'f1')) chunks.push(c as Buffer);
  t.ok(Buffer.concat(chunks).equals(data));
  await t.rejects(saveReportFile(store, 'f2', Readable.from([data.subarray(0, 10)]), { expectedLength: 11 }), { code: 'REPORT_FILE_MISMATCH' });
  t.equal(await store.db.collection('report_files.chunks').countDocuments({ files_id: 'f2' }), 0);
});

t.test('sync lock: one sync per connector; stale locks are taken over', async (t) => {
  const { store, connectorId } = await setup(t);
  const a = await acquireSyncLock(store, connectorId, 's1');
  t.equal(a.acquired, true);
  t.equal((await acquireSyncLock(store, connectorId, 's1')).acquired, true, 're-entrant for the same sync');
  const b = await acquireSyncLock(store, connectorId, 's2');
  t.equal(b.acquired, false);
  await releaseSyncLock(store, connectorId, 's1');
  t.equal((await acquireSyncLock(store, connectorId, 's2')).acquired, true);
});

t.test('the created count: from the batches when they make it exact, else from the documents', async (t) => {
  const { store, connectorId } = await setup(t, false);
  const report = all((h, c) => (c === '1' ? 'Passed' : 'Failed'));
  const created = async (runId: string) => store.col.findings.countDocuments({ firstSeenRunId: runId });
  // a finding twice in the report, in two batches (size 7: findings 0 and 39 are in the first and last)
  const twice = [...report, report[0]!];
  const cases: [string, Parameters<typeof ingest>[4], FindingRecord[]][] = [
    ['every batch written once (counts from the done marks)', {}, report],
    ['marks without counts (counts from the documents)', { bareMarks: true }, report],
    ['a batch written again after an unrecorded write', { rewriteBatch: 2 }, report],
    ['a finding twice in the report', {}, twice],
  ];
  for (const [name, opts, findings] of cases) {
    await store.col.findings.deleteMany({});
    await store.col.hosts.deleteMany({});
    await store.col.assessments.deleteMany({});
    const r = await ingest(store, connectorId, hosts, findings, opts);
    t.equal(r.state, 'succeeded', `${name}: succeeded`);
    t.equal(r.counts.findingsCreated, await created(r._id), `${name}: findingsCreated ${r.counts.findingsCreated} equals the findings the run created`);
    t.equal(r.counts.findingsCreated, 40, `${name}: 40 findings created`);
    t.equal(r.counts.findingsUpdated, findings.length - 40, `${name}: the rest counted as updated`);
  }
  // a second ingest of the same report parks no change: counts from the marks, nothing created
  const r2 = await ingest(store, connectorId, hosts, report);
  t.same([r2.counts.findingsCreated, r2.counts.findingsUpdated, r2.counts.findingsClosed, r2.counts.findingsReopened], [0, 40, 0, 0], 'a re-ingest creates 0, updates 40');
  // a flip parks changes: counts come from the documents
  const r3 = await ingest(store, connectorId, hosts, all((h, c) => (c === '2' ? 'Passed' : 'Failed')));
  t.same([r3.counts.findingsClosed, r3.counts.findingsReopened], [10, 10], 'control 2 closed as passed on 10 hosts, control 1 reopened on 10');
});
