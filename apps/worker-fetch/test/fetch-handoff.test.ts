/**
 * A fetch retried after its attempt stored the report and moved the run to parsing, but died before
 * enqueueing the parse job, hands the run to parse (before: it answered "run is parsing" and the run
 * waited for ever with no job, holding its connector's sync lock).
 */
import t from 'tap';
import { createSecretBox } from '@qpc/secrets';
import { createStore } from '@qpc/store/db';
import { createRun } from '@qpc/store/pipeline';
import { testMongo } from '@qpc/testing';
import { createLogger } from '@qpc/worker-kit';
import { fetchRun } from '../src/fetch.service.ts';

t.test('a retried fetch that finds its run parsing makes sure the parse job exists', async (t) => {
  const { db } = await testMongo(t);
  const store = createStore(db);
  await createRun(store, { _id: 'run-1', connectorId: 'c1', syncId: 's1', trigger: 'schedule', network: 'net', index: 0, report: { id: 'r1', title: 'PC', launchedAt: null }, state: 'queued' });
  await store.col.runs.updateOne({ _id: 'run-1' }, { $set: { state: 'parsing', resumes: 2 } });
  const handed: unknown[][] = [];
  const r = await fetchRun(
    {
      store,
      box: createSecretBox({ keys: { k1: Buffer.alloc(32, 3) }, currentKeyId: 'k1' }),
      qualys: () => {
        throw new Error('the report is stored already: no download');
      },
      enqueue: {
        parse: async (...args: unknown[]) => {
          handed.push(args);
          return undefined;
        },
      },
      logger: createLogger('test', 'silent'),
    },
    'run-1',
  );
  t.equal(r.outcome, 'done');
  t.same(handed, [['run-1', 'c1', 2]], 'the parse job of the run (its generation) is enqueued');
  t.equal((await store.col.runs.findOne({ _id: 'run-1' }))?.state, 'parsing', 'the run stays in parsing');
});
