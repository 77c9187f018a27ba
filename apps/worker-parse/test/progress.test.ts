/**
 * What a parse shows of itself on its run: bytesParsed never goes backwards when a crashed parse is run
 * again from the start, and a parse blocked on backpressure says it waits for the writers
 * (progress.waiting) until it goes on. Real MongoDB-wire server and GridFS; the writer is a stand-in
 * that marks batches written.
 */
import t from 'tap';
import { createStore, ensureIndexes, type Store } from '@qpc/store/db';
import { getRun, markBatchDone, setProgress } from '@qpc/store/pipeline';
import { testMongo, waitFor } from '@qpc/testing';
import { createLogger } from '@qpc/worker-kit';
import { parseRun, type ParseDeps } from '../src/parse.service.ts';
import { parsingRun } from './fixtures.ts';

const logger = createLogger('parse-test', 'silent');
const written = (store: Store, runId: string, seq: number) => markBatchDone(store, runId, seq, { hosts: 0, findings: 0, pending: 0, created: 0, createdBefore: 0 });

t.test('setProgress never lowers a counter', async (t) => {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const runId = await parsingRun(store);
  await setProgress(store, runId, { bytesParsed: 12_500, bytesDownloaded: 40 });
  await setProgress(store, runId, { bytesParsed: 3_100, bytesDownloaded: 50 });
  t.same((await getRun(store, runId)).progress, { bytesDownloaded: 50, bytesParsed: 12_500, batchesWritten: 0 });
});

t.test('bytesParsed stays at its highest across a parse re-run from the start', async (t) => {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  // ~20 batches of 250 over several 255 KB chunks, so a later batch has read more of the file
  const runId = await parsingRun(store, { hosts: 100, controls: 50 });
  const length = (await getRun(store, runId)).file!.length;
  t.ok(length > 4 * 255 * 1024, `report of ${length} bytes`);
  const base: Omit<ParseDeps, 'enqueue'> = { store, logger, batchSize: 250, maxPending: 1000, pollMs: 20 };
  const finalize = async () => undefined;

  // attempt 1: each batch takes 0.6 s to enqueue (progress is written at most every 0.5 s), dies at batch 8
  await t.rejects(
    parseRun(
      {
        ...base,
        enqueue: {
          finalize,
          upsert: async (_r: string, _c: string, seq: number) => {
            if (seq === 8) throw new Error('killed');
            await new Promise((r) => setTimeout(r, 600));
            return undefined;
          },
        },
      },
      runId,
    ),
    { message: 'killed' },
  );
  const reached = (await getRun(store, runId)).progress.bytesParsed;
  t.ok(reached > 255 * 1024, `attempt 1 reached ${reached} bytes`);

  // attempt 2 starts from the first byte; what the run shows is read at every batch
  const seen: number[] = [];
  const result = await parseRun(
    {
      ...base,
      enqueue: {
        finalize,
        upsert: async (_r: string, _c: string, seq: number) => {
          seen.push((await getRun(store, runId)).progress.bytesParsed);
          await new Promise((r) => setTimeout(r, seq < 3 ? 600 : 0));
          return undefined;
        },
      },
    },
    runId,
  );
  t.equal(result.outcome, 'done');
  t.ok(seen.length > 8, `read at ${seen.length} batches`);
  t.same(seen.filter((b) => b < reached), [], 'never below what attempt 1 reached');
  t.equal((await getRun(store, runId)).progress.bytesParsed, length, 'the whole report at the end');
});

t.test('a parse blocked on backpressure shows what it waits for, and clears it when it goes on', async (t) => {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const runId = await parsingRun(store, { hosts: 12, controls: 5 });
  const enqueued: number[] = [];
  let autoWrite = false;
  const waitingAtEnqueue = new Map<number, unknown>();
  const before = new Date();
  const parse = parseRun(
    {
      store, logger, batchSize: 10, maxPending: 2, pollMs: 20,
      enqueue: {
        finalize: async () => undefined,
        upsert: async (_r: string, _c: string, seq: number) => {
          enqueued.push(seq);
          waitingAtEnqueue.set(seq, (await getRun(store, runId)).progress.waiting ?? null);
          if (autoWrite) await written(store, runId, seq);
          return undefined;
        },
      },
    },
    runId,
  );
  // batches 0 and 1 staged, not written: batch 2 waits
  const waiting = await waitFor(async () => (await getRun(store, runId)).progress.waiting, 20_000, 50);
  t.same(enqueued, [0, 1]);
  t.equal(waiting.reason, 'batches');
  t.equal(waiting.pending, 2);
  t.ok(waiting.since >= before && waiting.since <= new Date(), 'since when');

  // the writers catch up: the parse goes on
  autoWrite = true;
  await written(store, runId, 0);
  await written(store, runId, 1);
  const result = await parse;
  t.equal(result.outcome, 'done');
  t.equal(waitingAtEnqueue.get(0), null);
  t.equal(waitingAtEnqueue.get(2), null, 'cleared once the parse went on');
  const run = await getRun(store, runId);
  t.equal(run.progress.waiting, null);
  t.equal(run.state, 'writing');
});
