/**
 * The FerretDB-mode snapshot behind Host Findings (queries/findings-view.ts), on the real database: one
 * read per data version, a run's update is what makes it read again, the size cap, one read for
 * concurrent requests, and no snapshot at all in MongoDB mode.
 */
import t from 'tap';
import { createStore, type RunDoc } from '@qpc/store/db';
import { testMongo } from '@qpc/testing';
import { FindingsView, openBySeverityOf } from '../src/queries/findings-view.ts';
import { makeFindings, makeHosts, seedInventory } from './fixtures.ts';

const { db } = await testMongo(t);
const store = createStore(db, { mode: 'ferretdb' });
const hosts = makeHosts(6);
const findings = makeFindings(hosts);
await seedInventory(store, hosts, findings);
const run = { _id: 'run-v', connectorId: 'c1', state: 'writing', createdAt: new Date(), updatedAt: new Date('2026-11-01T00:00:00Z') } as unknown as RunDoc;
await store.col.runs.insertOne(run);
const runMoved = (state: RunDoc['state'] = 'writing') => store.col.runs.updateOne({ _id: 'run-v' }, { $set: { updatedAt: new Date(), state } });

t.test('one snapshot per data version, sorted by id, with the list fields', async (t) => {
  const view = new FindingsView(store);
  const [a, b] = await Promise.all([view.current(), view.current()]);
  t.ok(a, 'a snapshot');
  t.equal(a, b, 'concurrent requests share one read');
  t.same(a!.docs.map((d) => d._id), findings.map((f) => f._id).sort());
  const one = a!.docs.find((d) => d._id === findings[3]!._id)!;
  t.equal(one.testStatus, findings[3]!.testStatus);
  t.same(one.history.map((h) => h.reason), ['new']);
  t.notOk('remediation' in one, 'fields the list does not show are not held');

  // a write outside any run is not seen (the pipeline writes only inside runs) ...
  await store.col.findings.updateOne({ _id: findings[3]!._id }, { $set: { testStatus: 'Passed', status: 'Closed' } });
  t.equal(await view.current(), a, 'same version: the same snapshot');
  // ... until a run moves
  await runMoved();
  const c = await view.current();
  t.not(c, a, 'a run moved: read again');
  t.equal(c!.docs.find((d) => d._id === findings[3]!._id)!.status, 'Closed');
  // a connector added or removed changes the version too (a purge deletes its network's findings)
  await store.col.connectors.insertOne({ _id: 'c-new', updatedAt: new Date() } as never);
  t.not(await view.current(), c, 'the connectors changed: read again');
});

t.test('more findings than the cap: no snapshot (the live queries answer) until the data changes', async (t) => {
  const view = new FindingsView(store, findings.length - 1);
  t.equal(await view.current(), null);
  t.equal(await view.current(), null, 'not read again for the same version');
  await store.col.findings.deleteMany({ _id: { $in: findings.slice(0, 5).map((f) => f._id) } });
  await runMoved('succeeded');
  const snap = await view.current();
  t.equal(snap?.docs.length, findings.length - 5, 'under the cap after the change');
});

t.test('MongoDB mode keeps its indexed queries: no snapshot', async (t) => {
  t.equal(await new FindingsView(createStore(db, { mode: 'mongodb' })).current(), null);
});

t.test("hosts' open findings by severity: the snapshot and the aggregation agree with the documents", async (t) => {
  await runMoved('succeeded');
  const ids = hosts.map((h) => h._id);
  const docs = await store.col.findings.find({}).toArray();
  const want = new Map(ids.map((id) => [id, {} as Record<string, number>]));
  for (const f of docs) if (f.status === 'Open') want.get(f.hostId)![f.severity ?? 'Unset'] = (want.get(f.hostId)![f.severity ?? 'Unset'] ?? 0) + 1;
  t.ok([...want.values()].some((m) => Object.keys(m).length > 1), 'the fixtures mix severities');
  const fromSnapshot = await openBySeverityOf(store, new FindingsView(store), ids);
  const mongoStore = createStore(db, { mode: 'mongodb' });
  const fromAggregation = await openBySeverityOf(mongoStore, new FindingsView(mongoStore), ids);
  t.same(Object.fromEntries(fromSnapshot), Object.fromEntries(want), 'snapshot (FerretDB mode)');
  t.same(Object.fromEntries(fromAggregation), Object.fromEntries(want), 'one aggregation (MongoDB mode)');
});
