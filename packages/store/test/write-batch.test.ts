import t from 'tap';
import { randomUUID } from 'node:crypto';
import { testMongo } from '@qpc/testing';
import { createStore, ensureIndexes } from '../src/db.ts';
import { insertNew, writeBatch } from '../src/inventory.ts';
import { finding, host } from './fixtures.ts';

t.test('insertNew: inserts the new, reports the existing by _id or by unique key, rethrows other errors', async (t) => {
  const { db } = await testMongo(t);
  const col = db.collection<{ _id: string; k: string; n?: number }>('things');
  await col.createIndex({ k: 1 }, { unique: true });
  await col.insertOne({ _id: 'a', k: 'ka' });
  const dup = await insertNew(col, [
    { _id: 'a', k: 'ka' }, // same _id
    { _id: 'b', k: 'kb' },
    { _id: 'c', k: 'ka' }, // another _id, same unique key
    { _id: 'd', k: 'kd' },
  ]);
  t.same(dup, [0, 2], 'the indexes of the documents that exist');
  t.same((await col.find({}).sort({ _id: 1 }).toArray()).map((d) => d._id), ['a', 'b', 'd'], 'the new ones are stored');
  t.same(await insertNew(col, []), []);
});

t.test('a batch written by two writers at once, then again, gives the same documents', async (t) => {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const hosts = Array.from({ length: 6 }, (_, i) => host(i));
  const findings = hosts.flatMap((h) => ['1', '2', '3'].map((c) => finding(h, c, c === '2' ? 'Passed' : 'Failed')));
  const runId = randomUUID();
  const now = new Date('2026-01-01T00:00:00Z');
  const [a, b] = await Promise.all([
    writeBatch(store, { runId, network: 'net', now }, hosts, findings),
    writeBatch(store, { runId, network: 'net', now }, hosts, findings),
  ]);
  t.same([a.findings, b.findings, a.pending + b.pending], [18, 18, 0], 'both report the batch, nothing pending');
  const snapshot = await store.col.findings.find({}).sort({ _id: 1 }).toArray();
  t.equal(snapshot.length, 18, 'no duplicate finding');
  t.equal(await store.col.hosts.countDocuments({}), 6, 'no duplicate host');
  t.equal(await store.col.assessments.countDocuments({}), 6, 'one assessment per host x policy');
  t.ok(snapshot.every((f) => f.history.length === 1 && f.history[0]?.reason === 'new'), 'one history entry each');
  t.equal(snapshot.filter((f) => f.status === 'Closed').length, 6, 'passed controls created closed');
  await writeBatch(store, { runId, network: 'net', now }, hosts, findings);
  t.same(await store.col.findings.find({}).sort({ _id: 1 }).toArray(), snapshot, 'written again: the same documents');
  const h0 = await store.col.hosts.findOne({ hostKey: hosts[0]!.hostKey });
  t.same(h0?.sources, ['QUALYSPC']);
  const f0 = snapshot.find((f) => f.hostKey === hosts[0]!.hostKey);
  t.equal(f0?.hostId, h0?._id, 'a finding points at its host');
  t.same([f0?.hostname, f0?.tags], [hosts[0]!.hostname, hosts[0]!.tags], 'host name and tags copied to the finding');
});

t.test('an assessment stored under another _id is stamped with the run by its natural key', async (t) => {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const h = host(1);
  await store.col.assessments.insertOne({ _id: 'other-id', network: 'net', hostKey: h.hostKey, policyId: h.policyId, runId: 'old-run' });
  await writeBatch(store, { runId: 'new-run', network: 'net' }, [h], [finding(h, '1', 'Failed')]);
  const all = await store.col.assessments.find({}).toArray();
  t.same(all.map((a) => [a._id, a.runId]), [['other-id', 'new-run']], 'one assessment, stamped with the new run');
});
