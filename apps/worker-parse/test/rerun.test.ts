/**
 * A parse re-run after a crash between staging a batch and enqueueing its upsert job (the window a
 * SIGKILL can hit): the re-run must enqueue that batch's job instead of waiting for it to be written, and
 * end with every batch staged once and enqueued. Real MongoDB-wire server and GridFS; the writer is a
 * stand-in that marks each enqueued batch written.
 */
import t from 'tap';
import { createStore, ensureIndexes } from '@qpc/store/db';
import { markBatchDone } from '@qpc/store/pipeline';
import { testMongo } from '@qpc/testing';
import { createLogger } from '@qpc/worker-kit';
import { parseRun, type ParseDeps } from '../src/parse.service.ts';
import { parsingRun } from './fixtures.ts';

const logger = createLogger('parse-test', 'silent');

t.test('a re-run enqueues the batch its crashed attempt staged but did not enqueue', async (t) => {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const runId = await parsingRun(store);
  const base: Omit<ParseDeps, 'enqueue'> = { store, logger, batchSize: 10, maxPending: 1, pollMs: 20 };
  const finalize = async () => undefined;

  // attempt 1 dies right after staging batch 0, before its job is enqueued
  await t.rejects(
    parseRun({ ...base, enqueue: { finalize, upsert: async () => Promise.reject(new Error('killed')) } }, runId),
    { message: 'killed' },
  );
  t.same(await store.col.batches.find({ runId }, { projection: { seq: 1, done: 1 } }).toArray(), [{ _id: `${runId}:0`, seq: 0, done: null }], 'batch 0 staged, not written');

  // attempt 2: each enqueued batch is written a moment later (a writer stand-in)
  const enqueued: number[] = [];
  const writes: Promise<void>[] = [];
  const rerun = parseRun(
    {
      ...base,
      enqueue: {
        finalize,
        upsert: async (_run, _connector, seq) => {
          enqueued.push(seq);
          writes.push(new Promise<void>((r) => setTimeout(r, 10)).then(() => markBatchDone(store, runId, seq, { hosts: 0, findings: 0, pending: 0, created: 0, createdBefore: 0 })));
          return undefined;
        },
      },
    },
    runId,
  );
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<'stuck'>((r) => (timer = setTimeout(() => r('stuck'), 20_000)));
  const result = await Promise.race([rerun, stuck]);
  clearTimeout(timer);
  await Promise.all(writes);
  t.not(result, 'stuck', 'the re-run finished (it did not wait for batch 0 to be written)');
  if (result === 'stuck') return;
  t.equal(result.outcome, 'done');
  const batches = await store.col.batches.find({ runId }).sort({ seq: 1 }).toArray();
  t.ok(batches.length > 2, `several batches (${batches.length})`);
  t.same(enqueued, batches.map((b) => b.seq), 'every batch enqueued once, batch 0 included, in order');
  t.equal((await store.col.runs.findOne({ _id: runId }))?.state, 'writing', 'the run moved on to writing');
});
