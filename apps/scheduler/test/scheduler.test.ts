/**
 * The scheduler keeps one BullMQ job scheduler per enabled connector schedule in step with MongoDB
 * (created, changed, removed within 5 s), and two scheduler processes never produce two jobs for one slot.
 * The processes run the scheduler's bundle, as `npm start` and the Docker image do (scripts/apps.mjs).
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { createSecretBox } from '@qpc/secrets';
import { createStore, ensureIndexes } from '@qpc/store/db';
import { createConnector } from '@qpc/store/connectors';
import { testMongo, testRedis, waitFor } from '@qpc/testing';
import { schedulerId } from '@qpc/jobs';
import { connectionOptions } from '@qpc/worker-kit';
import { appArgs, buildApps } from '../../../scripts/apps.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

t.test('schedules follow MongoDB within 5 s; two schedulers, one job per slot', async (t) => {
  const { redisUrl, prefix } = await testRedis(t);
  const { db, url } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const key = randomBytes(32);
  const box = createSecretBox({ keys: { k1: key }, currentKeyId: 'k1' });
  const procs: ChildProcess[] = [];
  t.teardown(async () => {
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : (p.once('exit', r), p.kill('SIGTERM'))))));
  });
  await buildApps(['scheduler']);
  for (let i = 0; i < 2; i++) {
    const p = spawn(process.execPath, appArgs('scheduler'), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', REDIS_URL: redisUrl, MONGO_URL: url, QPC_QUEUE_PREFIX: prefix, QPC_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    procs.push(p);
  }
  const queue = new Queue('sync', { connection: connectionOptions(redisUrl, 'producer'), prefix });
  t.teardown(() => queue.close());
  // a no-op consumer: BullMQ adds a scheduler's next job when the current one is taken
  const consumer = new Worker('sync', async () => 'ok', { connection: connectionOptions(redisUrl, 'worker'), prefix });
  t.teardown(() => consumer.close());

  const c = await createConnector(store, box, {
    name: 'sched', url: 'http://127.0.0.1:1', username: 'u', password: 'p', network: 'n', reportTitlePrefix: 'X',
    schedule: { enabled: true, kind: 'cron', cron: '*/2 * * * * *', timezone: 'UTC' },
  });
  const created = Date.now();
  const sid = schedulerId(c._id);
  await waitFor(async () => (await queue.getJobSchedulers()).find((s) => s.key === sid), 10_000, 100);
  t.ok(Date.now() - created < 5_000, `created within 5 s (${Date.now() - created} ms)`);

  await new Promise((r) => setTimeout(r, 7_000));
  const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
  const slots = jobs.filter((j) => String(j.id).includes(sid)).map((j) => j.timestamp);
  t.ok(slots.length >= 3, `several slots fired (${slots.length})`);
  const ids = jobs.filter((j) => String(j.id).includes(sid)).map((j) => String(j.id));
  t.equal(new Set(ids).size, ids.length, 'one job per slot');
  const stamps = ids.map((id) => id.split(':').pop());
  t.equal(new Set(stamps).size, stamps.length, 'no slot twice');
  const delayed = await queue.getJobs(['delayed']);
  t.ok(delayed.length <= 1, 'one next slot pending, not one per scheduler process');
  t.same(jobs[0]?.data, { connectorId: c._id, trigger: 'schedule', reingest: false });

  const changed = Date.now();
  await store.col.connectors.updateOne({ _id: c._id }, { $set: { schedule: { enabled: true, kind: 'daily', time: '03:15', timezone: 'Europe/Paris' } } });
  await waitFor(async () => (await queue.getJobSchedulers()).find((s) => s.key === sid && s.pattern === '15 3 * * *' && s.tz === 'Europe/Paris'), 10_000, 100);
  t.ok(Date.now() - changed < 5_000, `changed within 5 s (${Date.now() - changed} ms)`);

  const removed = Date.now();
  await store.col.connectors.deleteOne({ _id: c._id });
  await waitFor(async () => !(await queue.getJobSchedulers()).some((s) => s.key === sid), 10_000, 100);
  t.ok(Date.now() - removed < 5_000, `removed within 5 s (${Date.now() - removed} ms)`);
});
