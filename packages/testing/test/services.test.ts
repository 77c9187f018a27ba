import t from 'tap';
import { Queue, Worker, QueueEvents } from 'bullmq';
import { MongoServerError } from 'mongodb';
import { testRedis, testMongo, deletePrefix } from '../src/index.ts';

t.test('a job is processed on the real Redis, and cleanup removes only our prefix', async (t) => {
  const { redis, prefix } = await testRedis(t);
  const other = `${prefix}-other`;
  await redis.set(`${other}:keep`, '1');
  t.teardown(() => redis.del(`${other}:keep`));

  const queue = new Queue('q', { connection: redis, prefix });
  const [c1, c2] = [redis.duplicate(), redis.duplicate()];
  const events = new QueueEvents('q', { connection: c1, prefix });
  const worker = new Worker('q', async (job) => (job.data as { n: number }).n * 2, { connection: c2, prefix });
  t.teardown(async () => {
    await worker.close();
    await events.close();
    await queue.close();
    await Promise.all([c1.quit(), c2.quit()]);
  });
  await events.waitUntilReady();
  const job = await queue.add('double', { n: 21 });
  t.equal(await job.waitUntilFinished(events, 10_000), 42);
  t.ok((await redis.keys(`${prefix}:q:*`)).length > 0, 'keys exist under the prefix');
  const n = await deletePrefix(redis, prefix);
  t.ok(n > 0);
  t.equal((await redis.keys(`${prefix}:*`)).length, 0);
  t.equal(await redis.get(`${other}:keep`), '1', 'a neighbour prefix is untouched');
});

t.test('a document round-trips through the MongoDB-wire server with a unique index', async (t) => {
  const { db } = await testMongo(t);
  const hosts = db.collection<{ network: string; hostKey: string; tags: string[] }>('hosts');
  await hosts.createIndex({ network: 1, hostKey: 1 }, { unique: true });
  await hosts.insertOne({ network: 'n1', hostKey: 'ip:10.0.0.1', tags: ['PCI & SOX', 'Produção'] });
  const got = await hosts.findOne({ network: 'n1', hostKey: 'ip:10.0.0.1' }, { projection: { _id: 0 } });
  t.same(got, { network: 'n1', hostKey: 'ip:10.0.0.1', tags: ['PCI & SOX', 'Produção'] });
  const err = await hosts.insertOne({ network: 'n1', hostKey: 'ip:10.0.0.1', tags: [] }).catch((e: unknown) => e);
  t.type(err, MongoServerError);
  t.equal((err as MongoServerError).code, 11000, 'duplicate key refused');
  await hosts.insertOne({ network: 'n2', hostKey: 'ip:10.0.0.1', tags: [] });
  t.equal(await hosts.countDocuments(), 2, 'same key in another network is another host');
});
