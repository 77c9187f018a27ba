/**
 * startWorkerApp, the worker apps' one bootstrap, in process against the real Redis and MongoDB-wire
 * server: configuration checked before anything connects, the app's prepare step before its workers, jobs
 * enqueued through its enqueuer reach its workers, the heartbeat file is written, and shutdown closes the
 * workers, the queues and the store, then exits 0. The apps' process tests start the bundles built on it.
 */
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testMongo, testRedis, waitFor } from '@qpc/testing';
import { runWorker, startWorkerApp } from '../src/index.ts';

t.test('a missing required setting stops the app before it connects anything', async (t) => {
  let built = false;
  await t.rejects(
    startWorkerApp({
      name: 'test-app',
      require: ['QPC_SECRET_KEY'],
      env: { REDIS_URL: 'redis://127.0.0.1:1', MONGO_URL: 'mongodb://127.0.0.1:1/x', QPC_LOG_LEVEL: 'silent' },
      workers: () => {
        built = true;
        return {};
      },
    }),
    { code: 'CONFIG_INVALID', message: /QPC_SECRET_KEY is required/ },
  );
  t.notOk(built, 'no worker built');
});

t.test('prepare, workers, enqueuer, heartbeat, then an ordered shutdown that exits 0', async (t) => {
  const { prefix, redisUrl } = await testRedis(t);
  const { url: mongoUrl } = await testMongo(t);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'qpc-worker-app-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const heartbeat = path.join(dir, 'heartbeat');
  const steps: string[] = [];
  const seen: string[] = [];
  const exits: number[] = [];

  const app = await startWorkerApp({
    name: 'test-app',
    env: { REDIS_URL: redisUrl, MONGO_URL: mongoUrl, QPC_QUEUE_PREFIX: prefix, QPC_HEARTBEAT_FILE: heartbeat, QPC_LOG_LEVEL: 'silent' },
    exit: (code) => void exits.push(code),
    prepare: async ({ store }) => {
      steps.push('prepare');
      await store.col.runs.countDocuments({}); // the store is connected by then
    },
    workers: ({ common }) => {
      steps.push('workers');
      return {
        'finalize-worker': runWorker({
          ...common,
          queue: 'finalize',
          handlers: {
            finalize: async (data, { job }) => {
              seen.push(`${job.id} ${data.runId}`);
              return { outcome: 'done' };
            },
          },
        }),
      };
    },
  });
  t.same(steps, ['prepare', 'workers']);
  t.equal(app.ctx.redis, null, 'the eviction-check connection is not kept unless asked');
  t.equal(app.ctx.common.prefix, prefix, 'the workers share the queue prefix');

  await app.ctx.enqueuer.finalize('run-1', 'conn-1');
  await waitFor(async () => seen.length === 1, 15_000);
  t.same(seen, ['finalize-run-1 run-1'], 'the job reached the worker under the id the enqueuer names');
  t.match(await readFile(heartbeat, 'utf8'), /^\d{13}$/, 'the heartbeat file holds a timestamp');

  const worker = app.workers['finalize-worker']!;
  t.ok(worker.isRunning(), 'the worker runs until shutdown');
  await app.shutdown('test');
  t.same(exits, [0], 'exits 0 once everything closed');
  t.notOk(worker.isRunning(), 'the worker is closed');
  await t.rejects(app.ctx.enqueuer.finalize('run-2', 'conn-1'), 'the queues are closed');
});
