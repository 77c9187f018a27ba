import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { testMongo, type Teardown } from '@qpc/testing';
import { createSecretBox } from '@qpc/secrets';
import { findingKey } from '@qpc/domain';
import type { FindingRecord, HostRecord } from '@qpc/pc-report';
import { createStore, ensureIndexes, type Store } from '../src/db.ts';
import { createConnector } from '../src/connectors.ts';
import { advanceRun, createRun, finalizeRun, markBatchDone, stageBatch } from '../src/pipeline.ts';
import { createHostKeyResolver, ipOnlyHostKeys, resolveHostIdentities, writeBatch, type HostKeyResolver } from '../src/inventory.ts';
import { finding, host } from './fixtures.ts';

const box = createSecretBox({ keys: { k1: randomBytes(32) }, currentKeyId: 'k1' });

async function setup(t: Teardown) {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const c = await createConnector(store, box, { name: `c-${randomUUID()}`, url: 'http://127.0.0.1:1', username: 'u', password: 'pw', network: 'net', reportTitlePrefix: 'QPC' });
  return { store, connectorId: c._id };
}

/**
 * Ingest a report as the parse and upsert stages do: the parse re-keys IP-only records with one resolver
 * for the whole report and stages each batch; the write of a batch merges (resolveHostIdentities), then
 * writes; then finalize.
 */
async function ingest(store: Store, connectorId: string, batches: { hosts: HostRecord[]; findings: FindingRecord[] }[], network = 'net') {
  const runId = randomUUID();
  await createRun(store, { _id: runId, connectorId, syncId: runId, trigger: 'schedule', network, index: 0, report: { id: runId, title: 'QPC x', launchedAt: null }, state: 'queued' });
  await advanceRun(store, runId, ['queued'], 'parsing');
  const resolver = createHostKeyResolver(store, network);
  let findings = 0;
  let hosts = 0;
  for (const [seq, b] of batches.entries()) {
    const k = await resolver.rekey(b.hosts, b.findings);
    await stageBatch(store, runId, seq, k.hosts, k.findings);
    await resolveHostIdentities(store, { runId, network }, k.hosts);
    const r = await writeBatch(store, { runId, network }, k.hosts, k.findings);
    await markBatchDone(store, runId, seq, { hosts: r.hosts, findings: r.findings, seen: r.seen, changes: r.changes });
    findings += b.findings.length;
    hosts += b.hosts.length;
  }
  await store.col.runs.updateOne({ _id: runId }, { $set: { parse: { complete: true, batches: batches.length, summary: { hosts, findings, rejected: 0 } } } });
  await advanceRun(store, runId, ['parsing'], 'writing');
  return finalizeRun(store, runId);
}

const ipOnly = (n: number, ip: string, policy = 'P1') => host(n, policy, { qid: null, ip });
const withId = (n: number, qid: string, ip: string, policy = 'P1') => host(n, policy, { qid, ip });

t.test('an IP-only record of the one host known by host id with that IP is that host, findings included', async (t) => {
  const { store, connectorId } = await setup(t);
  const known = withId(1, '777', '10.9.9.9');
  await ingest(store, connectorId, [{ hosts: [known], findings: [finding(known, '1', 'Failed'), finding(known, '2', 'Failed')] }]);

  // a report without host ids: the host record in batch 0, its findings spread over batches 0 and 1
  const bare = ipOnly(1, '10.9.9.9');
  t.equal(bare.hostKey, 'ip:10.9.9.9');
  const r = await ingest(store, connectorId, [
    { hosts: [bare], findings: [finding(bare, '1', 'Passed')] },
    { hosts: [], findings: [finding(bare, '2', 'Failed'), finding(bare, '3', 'Failed')] },
  ]);
  t.equal(r.state, 'succeeded');
  t.equal(await store.col.hosts.countDocuments({}), 1, 'no duplicate host');
  const h = await store.col.hosts.findOne({});
  t.equal(h?.hostKey, 'qid:777');
  t.equal(h?.qualysHostId, '777', 'the host id is kept, not overwritten with null');
  // the host's fields did not change (no write); the run's visit is on the assessment of its host x policy
  t.same(
    (await store.col.assessments.find({}).toArray()).map((a) => [a.hostKey, a.runId]),
    [['qid:777', r._id]],
    'the host x policy is stamped with the run',
  );
  t.equal(await store.col.findings.countDocuments({}), 3);
  t.equal(await store.col.findings.countDocuments({ hostKey: 'qid:777' }), 3, 'findings of every batch take the key');
  t.equal(r.counts.findingsCreated, 1, 'only control 3 is new');
  t.equal(r.counts.findingsClosed, 1, 'control 1 flipped to Passed on the same finding');
  t.equal(r.counts.hostsCreated, 0);
  const f1 = await store.col.findings.findOne({ controlId: '1' });
  t.equal(f1?.findingKey, findingKey({ hostKey: 'qid:777', policyId: 'P1', controlId: '1', technology: 'Linux', instance: null }));
  t.equal(f1?.hostId, h?._id);
  t.equal(await store.col.assessments.countDocuments({ hostKey: 'ip:10.9.9.9' }), 0, 'URBA scope uses the host key too');
});

t.test('several hosts with host ids share the IP: ambiguous, the record keeps its ip: identity', async (t) => {
  const { store, connectorId } = await setup(t);
  const a = withId(1, '801', '10.1.1.1');
  const b = withId(2, '802', '10.1.1.1');
  await ingest(store, connectorId, [{ hosts: [a, b], findings: [finding(a, '1', 'Failed'), finding(b, '1', 'Failed')] }]);
  const bare = ipOnly(3, '10.1.1.1');
  await ingest(store, connectorId, [{ hosts: [bare], findings: [finding(bare, '1', 'Failed')] }]);
  t.equal(await store.col.hosts.countDocuments({}), 3);
  t.equal(await store.col.findings.countDocuments({ hostKey: 'ip:10.1.1.1' }), 1);
  t.equal(await store.col.findings.countDocuments({ hostKey: { $in: ['qid:801', 'qid:802'] } }), 2, 'neither known host got the results');
});

t.test('kept as ip: with no host of that IP, with only hosts of another network, or with its own ip: host', async (t) => {
  const { store, connectorId } = await setup(t);
  const elsewhere = withId(1, '900', '10.2.2.2');
  await ingest(store, connectorId, [{ hosts: [elsewhere], findings: [finding(elsewhere, '1', 'Failed')] }], 'other-net');
  const lone = ipOnly(2, '10.2.2.2');
  const none = ipOnly(3, '10.3.3.3');
  await ingest(store, connectorId, [{ hosts: [lone, none], findings: [finding(lone, '1', 'Failed'), finding(none, '1', 'Failed')] }]);
  t.same((await store.col.hosts.find({ network: 'net' }).toArray()).map((h) => h.hostKey).sort(), ['ip:10.2.2.2', 'ip:10.3.3.3']);

  // an ip: host exists and a host with an id later shows the same IP beside it (both known: two hosts)
  const twin = withId(4, '904', '10.3.3.3');
  await store.col.hosts.insertOne({
    _id: 'h-904', network: 'net', hostKey: twin.hostKey, qualysHostId: '904', ip: '10.3.3.3', hostname: null, dns: null, netbios: null, os: null,
    trackingMethod: null, lastScanDate: null, tags: [], sources: ['QUALYSPC'], firstSeen: new Date(), lastSeen: new Date(), firstSeenRunId: 'x', lastRunId: 'x',
  });
  const r = await ingest(store, connectorId, [{ hosts: [none], findings: [finding(none, '1', 'Passed')] }]);
  t.equal(r.counts.findingsCreated, 0, 'the ip: host keeps its own findings');
  t.equal(r.counts.findingsClosed, 1);
  t.equal(await store.col.findings.countDocuments({ hostKey: 'qid:904' }), 0);
});

t.test('the report\'s own records with a host id count, and their IP wins over the stored one', async (t) => {
  const { store, connectorId } = await setup(t);
  // stored: qid:5 at 10.5.5.5
  const moved = withId(5, '5', '10.5.5.5');
  await ingest(store, connectorId, [{ hosts: [moved], findings: [finding(moved, '1', 'Failed')] }]);
  const resolver: HostKeyResolver = createHostKeyResolver(store, 'net');
  // batch 0 of a new report: qid:5 now at 10.6.6.6, qid:6 (new, not yet written) at 10.7.7.7
  const out0 = await resolver.rekey([withId(5, '5', '10.6.6.6'), withId(6, '6', '10.7.7.7')], []);
  t.equal(out0.rekeyed, 0);
  // batch 1: IP-only records of both IPs and of the old one
  const at6 = ipOnly(10, '10.6.6.6');
  const at7 = ipOnly(11, '10.7.7.7');
  const at5 = ipOnly(12, '10.5.5.5');
  const at8 = ipOnly(13, '10.8.8.8');
  const out1 = await resolver.rekey([at6, at7, at5, at8], [finding(at6, '1', 'Failed'), finding(at5, '1', 'Failed')]);
  t.same(out1.hosts.map((h) => h.hostKey), ['qid:5', 'qid:6', 'ip:10.5.5.5', 'ip:10.8.8.8'], 'qid:5 is at its new IP only; qid:6 known from the report');
  t.same(out1.hosts.map((h) => h.qualysHostId), ['5', '6', null, null]);
  t.same(out1.findings.map((f) => f.hostKey), ['qid:5', 'ip:10.5.5.5']);
  t.equal(out1.findings[0]?.findingKey, findingKey({ hostKey: 'qid:5', policyId: 'P1', controlId: '1', technology: 'Linux', instance: null }));
  t.equal(out1.findings[1]?.findingKey, finding(at5, '1', 'Failed').findingKey, 'an unchanged record keeps its key');
  t.equal(out1.rekeyed, 3);

  // decided once per IP: a host with an id that appears later does not move records already keyed
  await store.col.hosts.insertOne({
    _id: 'h-late', network: 'net', hostKey: 'qid:99', qualysHostId: '99', ip: '10.8.8.8', hostname: null, dns: null, netbios: null, os: null,
    trackingMethod: null, lastScanDate: null, tags: [], sources: ['QUALYSPC'], firstSeen: new Date(), lastSeen: new Date(), firstSeenRunId: 'x', lastRunId: 'x',
  });
  const out2 = await resolver.rekey([], [finding(at8, '2', 'Failed'), finding(at7, '2', 'Failed')]);
  t.same(out2.findings.map((f) => f.hostKey), ['ip:10.8.8.8', 'qid:6']);
  // while a new resolver (the next report) sees it
  const next = await createHostKeyResolver(store, 'net').rekey([at8], []);
  t.same(next.hosts.map((h) => h.hostKey), ['qid:99']);
});

t.test('an IP-only record meeting its host\'s own record in one batch gives one host record', async (t) => {
  const { store } = await setup(t);
  const resolver = createHostKeyResolver(store, 'net');
  const out = await resolver.rekey([withId(1, '42', '10.4.4.4'), ipOnly(2, '10.4.4.4'), ipOnly(2, '10.4.4.4', 'P2')], []);
  t.same(out.hosts.map((h) => `${h.hostKey}|${h.policyId}`), ['qid:42|P1', 'qid:42|P2']);
  t.equal(out.hosts[0]?.hostname, 'h1.example', 'the record with the host id wins its slot');
  t.equal(out.hosts[1]?.hostname, 'h2.example');
  // the report moves qid:42 to another IP: the old one has no host with an id any more
  const later = await resolver.rekey([withId(1, '42', '10.4.4.5'), ipOnly(3, '10.4.4.6')], []);
  t.equal(later.rekeyed, 0);
  const fresh = createHostKeyResolver(store, 'net');
  await fresh.rekey([withId(1, '42', '10.4.4.4')], []);
  await fresh.rekey([withId(1, '42', '10.4.4.5')], []);
  t.same((await fresh.rekey([ipOnly(4, '10.4.4.4'), ipOnly(5, '10.4.4.5')], [])).hosts.map((h) => h.hostKey), ['ip:10.4.4.4', 'qid:42']);
});

t.test('the write side merges: hosts known only by IP are read once per run, a merge a kill left half done is finished', async (t) => {
  const { store, connectorId } = await setup(t);
  const a = ipOnly(1, '10.5.5.1');
  const b = ipOnly(2, '10.5.5.2');
  await ingest(store, connectorId, [{ hosts: [a, b], findings: [finding(a, '1', 'Failed'), finding(a, '2', 'Passed'), finding(b, '1', 'Failed')] }]);
  const known = withId(9, '950', '10.6.6.6');
  await ingest(store, connectorId, [{ hosts: [known], findings: [finding(known, '1', 'Failed')] }]);
  const keys = await ipOnlyHostKeys(store, 'net');
  t.same([...keys].sort(), ['ip:10.5.5.1', 'ip:10.5.5.2'], 'the ip: hosts of the network, not the host with an id');

  // a run's write merges the host with the IP, findings included
  const run1 = randomUUID();
  const later = withId(1, '951', '10.5.5.1');
  t.equal(await resolveHostIdentities(store, { runId: run1, network: 'net' }, [later]), 1, 'merged');
  t.equal(await resolveHostIdentities(store, { runId: run1, network: 'net' }, [later]), 0, 'settled: not looked for again');
  const merged = await store.col.hosts.findOne({ hostKey: 'qid:951' });
  t.same(merged?.aliases, ['ip:10.5.5.1'], 'the host took its id, the old key kept as alias');
  t.equal(merged?.rekeyFrom, undefined, 'no re-key pending');
  t.same(
    (await store.col.findings.find({ hostKey: 'qid:951' }).toArray()).map((f) => f.findingKey).sort(),
    [finding(later, '1', 'Failed').findingKey, finding(later, '2', 'Passed').findingKey].sort(),
    'findings moved, under keys of the host id',
  );
  t.equal(await store.col.findings.countDocuments({ hostKey: 'ip:10.5.5.1' }), 0, 'none left under the old key');

  // an ip: host created after the run's first look is not looked for by that run (a later run does)
  const c = ipOnly(3, '10.5.5.3');
  await ingest(store, connectorId, [{ hosts: [c], findings: [finding(c, '1', 'Failed')] }]);
  t.equal(await resolveHostIdentities(store, { runId: run1, network: 'net' }, [withId(3, '953', '10.5.5.3')]), 0, 'not in the set read at the run\'s first batch');
  t.equal(await resolveHostIdentities(store, { runId: randomUUID(), network: 'net' }, [withId(3, '953', '10.5.5.3')]), 1, 'a later run merges it');

  // a merge killed after its compare-and-set, before its findings moved: the next write of the host finishes it
  await store.col.hosts.updateOne({ hostKey: 'ip:10.5.5.2' }, { $set: { hostKey: 'qid:952', qualysHostId: '952', rekeyFrom: 'ip:10.5.5.2' }, $addToSet: { aliases: 'ip:10.5.5.2' } });
  t.equal(await store.col.findings.countDocuments({ hostKey: 'ip:10.5.5.2' }), 1, 'the finding still waits under the old key');
  t.equal(await resolveHostIdentities(store, { runId: randomUUID(), network: 'net' }, [withId(2, '952', '10.5.5.2')]), 0, 'nothing left to merge');
  t.equal(await store.col.findings.countDocuments({ hostKey: 'ip:10.5.5.2' }), 0, 'moved by the next write');
  t.equal(await store.col.findings.countDocuments({ hostKey: 'qid:952' }), 1);
  t.equal((await store.col.hosts.findOne({ hostKey: 'qid:952' }))?.rekeyFrom, undefined, 'the mark is gone');
});
