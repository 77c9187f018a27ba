/**
 * `npm run bench -- resync-ops`: what the statements a re-sync could be built from cost on this server,
 * on a findings collection of QPC_BENCH_DOCS finding-shaped documents (default 100,000; unique index on
 * {network, findingKey}). These figures chose the write path of recurring syncs (README, Recurring syncs):
 * (a) one streaming find of the whole collection with a small projection; (b) deleteMany of 1,000 ids;
 * (c) insertMany of 1,000; (d) find of 1,000 ids; (e) updateMany of 1,000 ids with one $set;
 * (f) find of 1,000 natural keys; (h) find of 100 ids; (i) find of an _id range; (j) a count.
 */
import { createHash, randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { mongoUrlFor, serviceUrls } from '@qpc/testing';

const total = Number(process.env.QPC_BENCH_DOCS ?? 100_000);
const { mongoUrl } = serviceUrls();
const dbName = `bench_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
const client = new MongoClient(mongoUrlFor(mongoUrl, dbName));
await client.connect();
const db = client.db(dbName);
const col = db.collection<{ _id: string; network: string; findingKey: string; [k: string]: unknown }>('findings');
await col.createIndex({ network: 1, findingKey: 1 }, { unique: true, name: 'finding_unique' });

const idOf = (i: number) => createHash('sha1').update(`f${i}`).digest('hex').slice(0, 24);
const doc = (i: number, gen = 0) => ({
  _id: idOf(i),
  network: 'bench',
  findingKey: `qid:${100000 + (i % 5000)}|p1|c${i}|`,
  hostKey: `qid:${100000 + (i % 5000)}`,
  hostId: idOf(-i),
  ip: '10.0.0.1',
  hostname: `host-${i % 5000}`,
  tags: ['a', 'b'],
  scanner: 'QUALYSPC',
  policyId: 'p1',
  policyTitle: 'Policy',
  controlId: `c${i}`,
  title: 'A control statement of some length, as the report gives it',
  technology: 'Linux',
  technologyId: '1',
  instance: null,
  testStatus: gen % 2 ? 'Passed' : 'Failed',
  status: gen % 2 ? 'Closed' : 'Open',
  severity: 'High',
  criticalityLabel: 'HIGH',
  criticalityValue: 3,
  expected: 'expected value',
  actual: 'actual value',
  rationale: 'rationale text '.repeat(4),
  remediation: 'remediation text '.repeat(4),
  evaluationDate: '2026-01-01T00:00:00Z',
  exception: null,
  firstSeen: new Date(),
  lastSeen: new Date(),
  contentHash: `h${gen}`,
  history: [{ at: new Date(), runId: 'r1', from: null, to: 'Open', reason: 'new' }],
});

const timed = async <T>(label: string, fn: () => Promise<T>): Promise<number> => {
  const t0 = performance.now();
  await fn();
  const s = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(58)} ${s.toFixed(2)} s`);
  return s;
};

const results: Record<string, number> = {};
try {
  const t0 = performance.now();
  for (let i = 0; i < total; i += 1000) {
    await col.insertMany(Array.from({ length: Math.min(1000, total - i) }, (_, k) => doc(i + k)), { ordered: false });
  }
  const loadS = (performance.now() - t0) / 1000;
  console.log(`load ${total} docs: ${loadS.toFixed(1)} s (${Math.round(total / loadS)}/s)`);
  results.load_per_s = Math.round(total / loadS);

  const ids = Array.from({ length: 1000 }, (_, k) => idOf(k * Math.floor(total / 1000)));
  const keys = Array.from({ length: 1000 }, (_, k) => doc(k * Math.floor(total / 1000)).findingKey);
  // QPC_BENCH_SKIP_SLOW=1 leaves out (a2), (d), (f) and (e): each takes minutes at 100,000 documents on FerretDB
  const slow = process.env.QPC_BENCH_SKIP_SLOW !== '1';
  results.a_stream_find_s = await timed('(a) streaming find, projection {_id, contentHash, status}', async () => {
    let n = 0;
    for await (const _d of col.find({ network: 'bench' }, { projection: { _id: 1, contentHash: 1, status: 1 }, batchSize: 10_000 })) n++;
    if (n !== total) throw new Error(`streamed ${n} of ${total}`);
  });
  if (slow) {
    results.a_stream_find_full_s = await timed('(a2) streaming find, whole documents', async () => {
      let n = 0;
      for await (const _d of col.find({ network: 'bench' }, { batchSize: 5_000 })) n++;
      if (n !== total) throw new Error(`streamed ${n} of ${total}`);
    });
  }
  const step = Math.floor(total / 1000);
  const sorted = [...ids].sort();
  results.h_find_ids_100_s = await timed('(h) find({_id: {$in: 100 ids}})', () => col.find({ _id: { $in: ids.slice(0, 100) } }).toArray());
  results.i_find_id_range_s = await timed('(i) find({network, _id: {$gte, $lte}}) (a 1,000-id range)', () =>
    col.find({ network: 'bench', _id: { $gte: sorted[0]!, $lte: sorted[0]!.replace(/.$/, 'f') } }).toArray(),
  );
  results.j_count_s = await timed('(j) countDocuments({network, status})', () => col.countDocuments({ network: 'bench', status: 'Open' }));
  results.b_delete_many_s = await timed('(b) deleteMany({_id: {$in: 1,000 ids}})', () => col.deleteMany({ _id: { $in: ids } }));
  results.c_insert_many_s = await timed('(c) insertMany of 1,000 (whole documents)', () => col.insertMany(ids.map((_, k) => doc(k * step, 1)), { ordered: false }));
  if (slow) {
    results.d_find_ids_s = await timed('(d) find({_id: {$in: 1,000 ids}})', () => col.find({ _id: { $in: ids } }).toArray());
    results.f_find_keys_s = await timed('(f) find({network, findingKey: {$in: 1,000 keys}})', () => col.find({ network: 'bench', findingKey: { $in: keys } }).toArray());
    results.e_update_many_s = await timed('(e) updateMany({_id: {$in: 1,000 ids}}, one $set)', () => col.updateMany({ _id: { $in: ids } }, { $set: { contentHash: 'h1' } }));
  }
} finally {
  await db.dropDatabase().catch(() => {});
  await client.close();
}
console.log(JSON.stringify({ docs: total, ...results }));
