/**
 * One connector with a bad schedule never stops the others: schedules already in MongoDB that the cron
 * parser refuses (saved before the API checked them) leave only their own connector unscheduled, the
 * others are scheduled and stale job schedulers removed, and each bad schedule is logged once per
 * change, not once per tick.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { createSecretBox } from '@qpc/secrets';
import { createStore, ensureIndexes } from '@qpc/store/db';
import { createConnector } from '@qpc/store/connectors';
import { testMongo, testRedis } from '@qpc/testing';
import { schedulerId } from '@qpc/jobs';
import { connectionOptions, createLogger } from '@qpc/worker-kit';
import { scheduleReconciler, startReconciler } from '../src/index.ts';

function captureLogger() {
  const lines: { level: number; msg: string; connectorId?: string; err?: { message: string } }[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  return { logger: createLogger('test', 'info', dest as never), lines };
}

t.test('bad schedules in the database: the others are scheduled, removals applied, each failure logged once', async (t) => {
  const { redisUrl, prefix } = await testRedis(t);
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const box = createSecretBox({ keys: { k1: randomBytes(32) }, currentKeyId: 'k1' });
  const queue = new Queue('sync', { connection: connectionOptions(redisUrl, 'producer'), prefix });
  t.teardown(() => queue.close());
  const connector = async (name: string) =>
    createConnector(store, box, {
      name, url: 'http://127.0.0.1:1', username: 'u', password: 'p', network: name, reportTitlePrefix: 'X',
      schedule: { enabled: true, kind: 'hourly', minute: 7, timezone: 'UTC' },
    });
  const bad1 = await connector('bad-range');
  const bad2 = await connector('bad-step');
  const good = await connector('good');
  // written as the API stored them before it checked crons with the scheduler's parser
  await store.col.connectors.updateOne({ _id: bad1._id }, { $set: { schedule: { enabled: true, kind: 'cron', cron: '99 99 99 99 99', timezone: 'UTC' } } });
  await store.col.connectors.updateOne({ _id: bad2._id }, { $set: { schedule: { enabled: true, kind: 'cron', cron: '*/0 * * * *', timezone: 'UTC' } } });
  // the job scheduler of a connector deleted meanwhile
  await queue.upsertJobScheduler(schedulerId('deleted-one'), { pattern: '0 3 * * *' }, { name: 'sync', data: { connectorId: 'deleted-one', trigger: 'schedule' } });

  const { logger, lines } = captureLogger();
  const reconcile = scheduleReconciler(store, queue, logger);
  const first = await reconcile();
  t.same(first.invalid.sort(), [bad1._id, bad2._id].sort());
  t.same(first.upserted, [schedulerId(good._id)], 'the valid connector is scheduled');
  t.same(first.removed, [schedulerId('deleted-one')], 'the stale job scheduler is removed');
  const schedulers = await queue.getJobSchedulers(0, -1);
  t.same(schedulers.map((s) => [s.key, s.pattern]), [[schedulerId(good._id), '7 * * * *']]);

  for (let i = 0; i < 5; i++) await reconcile();
  const warned = (id: string) => lines.filter((l) => l.level === 40 && l.connectorId === id);
  t.equal(warned(bad1._id).length, 1, 'logged once over 6 ticks');
  t.equal(warned(bad2._id).length, 1, 'logged once over 6 ticks');
  t.match(warned(bad1._id)[0]?.err?.message, /got value 99 expected range 0-59/, 'with the parser message');
  t.match(warned(bad2._id)[0]?.err?.message, /cannot repeat at every 0 time/);

  // a new bad schedule is logged again (once); a fixed one is scheduled
  await store.col.connectors.updateOne({ _id: bad1._id }, { $set: { schedule: { enabled: true, kind: 'cron', cron: '0 0 30 2 *', timezone: 'UTC' } } });
  await store.col.connectors.updateOne({ _id: bad2._id }, { $set: { schedule: { enabled: true, kind: 'cron', cron: '*/15 * * * *', timezone: 'UTC' } } });
  const fixed = await reconcile();
  await reconcile();
  t.same(fixed.upserted, [schedulerId(bad2._id)]);
  t.equal(warned(bad1._id).length, 2, 'the changed schedule is logged once more');
  t.match(warned(bad1._id)[1]?.err?.message, /Invalid explicit day of month/);
  t.equal(warned(bad2._id).length, 1);
  t.same((await queue.getJobSchedulers(0, -1)).map((s) => s.key).sort(), [schedulerId(good._id), schedulerId(bad2._id)].sort());
});

t.test('a tick that keeps failing is logged when its message changes, not every tick', async (t) => {
  const { logger, lines } = captureLogger();
  let fail: string | undefined = 'connection refused';
  let ticks = 0;
  const stop = startReconciler(
    async () => {
      ticks += 1;
      if (fail) throw new Error(fail);
    },
    10,
    logger,
  );
  while (ticks < 20) await new Promise((r) => setTimeout(r, 10));
  fail = undefined;
  const recovered = ticks;
  while (ticks < recovered + 5) await new Promise((r) => setTimeout(r, 10));
  await stop();
  t.same(
    lines.map((l) => [l.level, l.msg, l.err?.message]),
    [
      [40, 'schedule reconcile failed; retrying every tick', 'connection refused'],
      [30, 'schedule reconcile recovered', undefined],
    ],
  );
});
