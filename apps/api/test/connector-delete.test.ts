/**
 * Deleting a connector never strands data: refused while a sync runs (no run writes under a purge),
 * and a purge cut half-way by a database failure is finished by repeating the request.
 */
import t from 'tap';
import { TcpProxy } from '@qpc/testing';
import type { Store } from '@qpc/store/db';
import { acquireSyncLock, createRun, setLockRuns } from '@qpc/store/pipeline';
import { makeFindings, makeHosts, seedInventory } from './fixtures.ts';
import { startApi, type Api } from './helpers.ts';

const connectorBody = (name: string, network: string) => ({
  name,
  url: 'https://qualysapi.qg2.apps.qualys.com',
  username: 'apiuser',
  password: 'Canary-Pa55word-2b7e41',
  network,
  reportTitlePrefix: 'PC Weekly',
});

/** hosts and findings of one network, as the pipeline would have left them */
async function seedNetwork(store: Store, network: string, hosts: number, controls: number) {
  const h = makeHosts(hosts * 2)
    .filter((x) => x.network === 'net-a')
    .map((x) => ({ ...x, _id: `${network}-${x._id}`, network }));
  const f = makeFindings(h, ['P1', 'P2'], controls).map((x) => ({ ...x, _id: `${network}-${x._id}`, network }));
  await seedInventory(store, h, f);
  return { hosts: h.length, findings: f.length };
}

async function createConnector(api: Api, name: string, network: string): Promise<string> {
  const c = await api.call('POST', '/api/connectors', { body: connectorBody(name, network) });
  if (c.status !== 201) throw new Error(c.text);
  return c.json.id as string;
}

t.test('a delete while a sync runs is refused with 409 and removes nothing; once the sync ends it deletes', async (t) => {
  const api = await startApi(t);
  const { store } = api.deps;
  const id = await createConnector(api, 'During sync', 'net-sync');
  const seeded = await seedNetwork(store, 'net-sync', 10, 2);
  // a sync in progress, as the planner leaves it: the lock names its run, the run is writing
  const lock = await acquireSyncLock(store, id, 'sync-job-1');
  t.equal(lock.acquired, true);
  await createRun(store, { _id: 'run-1', connectorId: id, syncId: 'sync-job-1', trigger: 'on-demand', network: 'net-sync', index: 0, report: { id: 'r1', title: 'PC Weekly', launchedAt: null }, state: 'queued' });
  await store.col.runs.updateOne({ _id: 'run-1' }, { $set: { state: 'writing' } });
  await setLockRuns(store, id, 'sync-job-1', ['run-1']);

  const refused = await api.call('DELETE', `/api/connectors/${id}?purge=true`);
  t.equal(refused.status, 409, refused.text);
  t.equal(refused.json.error.code, 'SYNC_RUNNING');
  t.match(refused.json.error.message, /sync-job-1/);
  t.equal((await api.call('GET', `/api/connectors/${id}`)).status, 200, 'the connector stays');
  t.equal(await store.col.findings.countDocuments({ network: 'net-sync' }), seeded.findings, 'its findings stay');
  t.equal(await store.col.runs.countDocuments({ connectorId: id }), 1, 'its run stays');
  t.equal((await store.col.syncLocks.findOne({ _id: id }))?.syncId, 'sync-job-1', 'the sync keeps its lock');
  t.equal((await store.col.connectors.findOne({ _id: id }))?.deleting ?? null, null, 'not marked as deleting');

  // the run ends: its lock is then stale, and the delete takes it
  await store.col.runs.updateOne({ _id: 'run-1' }, { $set: { state: 'succeeded', endedAt: new Date() } });
  const done = await api.call('DELETE', `/api/connectors/${id}?purge=true`);
  t.equal(done.status, 200, done.text);
  t.equal(done.json.purged.findings, seeded.findings);
  t.equal(done.json.resumed, false);
  t.equal((await api.call('GET', `/api/connectors/${id}`)).status, 404);
  t.equal(await store.col.findings.countDocuments({ network: 'net-sync' }), 0);
  t.equal(await store.col.hosts.countDocuments({ network: 'net-sync' }), 0);
  t.equal(await store.col.runs.countDocuments({ connectorId: id }), 0);
  t.equal(await store.col.syncLocks.countDocuments({ _id: id }), 0, 'the lock is released');
});

t.test('a purge cut half-way by a database failure is finished by repeating the DELETE', async (t) => {
  const direct = await startApi(t);
  const url = new URL(direct.mongoUrl);
  const proxy = await new TcpProxy({ host: url.hostname, port: Number(url.port || 27017) }).listen();
  // the API under test reaches the same database through the proxy; `direct` watches without it
  const api = await startApi(t, { mongoHostPort: `127.0.0.1:${proxy.port}` });
  t.teardown(() => proxy.close());
  const store = direct.deps.store.db.client.db(api.dbName);
  const id = await createConnector(api, 'Cut purge', 'net-cut');
  await seedNetwork(api.deps.store, 'net-cut', 500, 5);
  await createRun(api.deps.store, { _id: 'run-old', connectorId: id, syncId: 'sync-old', trigger: 'schedule', network: 'net-cut', index: 0, report: { id: 'r0', title: 'PC Weekly', launchedAt: null }, state: 'no-new-report' });
  const findingsBefore = await store.collection('findings').countDocuments({ network: 'net-cut' });
  t.ok(findingsBefore >= 5_000, `${findingsBefore} findings seeded`);

  // the database is cut away as soon as the delete has marked the connector: the purge's statements
  // (schedule, files, batches, runs, reports, findings, hosts...) come after that mark
  const pending = api.call('DELETE', `/api/connectors/${id}?purge=true`);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !(await store.collection('connectors').findOne({ _id: id as never, deleting: { $ne: null } }))) {
    await new Promise((r) => setImmediate(r));
  }
  proxy.cut();
  const failed = await pending;
  proxy.restore();
  t.ok(failed.status >= 500, `the cut purge fails (${failed.status})`);
  // a statement in flight may still end on the server; the ones after it were never sent
  const left = (await store.collection('findings').countDocuments({ network: 'net-cut' })) + (await store.collection('hosts').countDocuments({ network: 'net-cut' }));
  t.ok(left > 0, `the cut left ${left} hosts and findings behind`);

  // the connector is still there, marked, and it refuses a sync until the delete is finished
  let view = await api.call('GET', `/api/connectors/${id}`);
  const readyBy = Date.now() + 20_000;
  while (view.status >= 500 && Date.now() < readyBy) {
    await new Promise((r) => setTimeout(r, 300));
    view = await api.call('GET', `/api/connectors/${id}`);
  }
  t.equal(view.status, 200, 'the connector is not gone before its data');
  t.equal(view.json.deleting, true);
  const sync = await api.call('POST', `/api/connectors/${id}/sync`, { body: {} });
  t.equal(sync.status, 409);
  t.equal(sync.json.error.code, 'CONNECTOR_DELETING');

  // a plain DELETE repeated finishes the purge that was asked first
  const again = await api.call('DELETE', `/api/connectors/${id}`);
  t.equal(again.status, 200, again.text);
  t.equal(again.json.resumed, true);
  t.ok(again.json.purged, 'still a purge');
  t.equal(await store.collection('findings').countDocuments({ network: 'net-cut' }), 0);
  t.equal(await store.collection('hosts').countDocuments({ network: 'net-cut' }), 0);
  t.equal(await store.collection('runs').countDocuments({ connectorId: id }), 0);
  t.equal(await store.collection('sync_locks').countDocuments({ _id: id as never }), 0, 'the lock is released');
  t.equal((await api.call('GET', `/api/connectors/${id}`)).status, 404);
});
