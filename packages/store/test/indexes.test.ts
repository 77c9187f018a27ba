import t from 'tap';
import { testMongo } from '@qpc/testing';
import { createStore, ensureIndexes, allIndexes } from '../src/db.ts';

t.test('ensureIndexes creates every index, twice without error, and unique keys hold', async (t) => {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  await ensureIndexes(db);
  const store = createStore(db);
  for (const spec of allIndexes()) {
    const names = (await db.collection(spec.collection).indexes()).map((i) => i.name);
    t.ok(names.includes(spec.name), `${spec.collection}.${spec.name}`);
  }
  const now = new Date();
  const host = {
    _id: 'h1', network: 'n', hostKey: 'ip:10.0.0.1', qualysHostId: null, ip: '10.0.0.1', hostname: null, dns: null,
    netbios: null, os: null, trackingMethod: null, lastScanDate: null, tags: [], sources: ['QUALYSPC'],
    firstSeen: now, lastSeen: now, firstSeenRunId: 'r', lastRunId: 'r',
  };
  await store.col.hosts.insertOne(host);
  await t.rejects(store.col.hosts.insertOne({ ...host, _id: 'h2' }), { code: 11000 });
  await store.col.hosts.insertOne({ ...host, _id: 'h3', network: 'other' });
});
