/**
 * A report with more host records (host x policy) than the parse worker may keep is refused with a clear
 * error: the run goes on as an incomplete parse (finalize then closes nothing), it does not die out of
 * memory. Real MongoDB-wire server and GridFS.
 */
import t from 'tap';
import { createStore, ensureIndexes } from '@qpc/store/db';
import { decodeBatchRecords } from '@qpc/store/pipeline';
import { testMongo } from '@qpc/testing';
import { createLogger } from '@qpc/worker-kit';
import { parseRun, type ParseDeps } from '../src/parse.service.ts';
import { parsingRun } from './fixtures.ts';

const logger = createLogger('parse-test', 'silent');

t.test('past the host record limit the parse stops with TOO_MANY_HOST_RECORDS; under it the same report parses whole', async (t) => {
  const { db } = await testMongo(t);
  await ensureIndexes(db);
  const store = createStore(db);
  const enqueued: number[] = [];
  const deps = (maxHostRecords: number): ParseDeps => ({
    store,
    logger,
    batchSize: 10,
    maxPending: 1000,
    maxHostRecords,
    enqueue: { finalize: async () => undefined, upsert: async (_run, _connector, seq) => void enqueued.push(seq) },
  });

  const refused = await parsingRun(store, { hosts: 12, controls: 5 });
  const result = await parseRun(deps(5), refused);
  t.equal(result.error, 'TOO_MANY_HOST_RECORDS', 'the parse ends with the limit error');
  const run = await store.col.runs.findOne({ _id: refused });
  t.equal(run?.state, 'writing', 'the run goes on to write what was read and finalize');
  t.equal(run?.parse?.complete, false, 'as an incomplete parse (finalize closes nothing)');
  t.equal(run?.error?.class, 'HostRecordLimitError:TOO_MANY_HOST_RECORDS');
  t.match(run?.error?.message, /more than 5 host records .* MB heap; give worker-parse a larger heap/, 'the error says what to change');
  const staged = await store.col.batches.find({ runId: refused }).toArray();
  const hostsStaged = new Set(staged.flatMap((b) => (b.records ? decodeBatchRecords(b.records).hosts : []).map((h) => h.hostKey)));
  t.ok(hostsStaged.size > 0 && hostsStaged.size <= 5, `what was read before the limit is staged, no more (${hostsStaged.size} hosts)`);

  const whole = await parsingRun(store, { hosts: 12, controls: 5 });
  const ok = await parseRun(deps(12), whole);
  t.equal(ok.error, undefined, 'a limit equal to the report\'s host records is enough');
  t.equal(ok.findings, 60, 'every finding parsed');
  t.equal((await store.col.runs.findOne({ _id: whole }))?.parse?.complete, true);
});
