/** A sync never runs on a connector whose delete stopped half-way, even once the delete's lock went stale. */
import t from 'tap';
import { createSecretBox } from '@qpc/secrets';
import { createStore, type ConnectorDoc } from '@qpc/store/db';
import { acquireSyncLock } from '@qpc/store/pipeline';
import { testMongo } from '@qpc/testing';
import { createLogger } from '@qpc/worker-kit';
import { planSync } from '../src/sync.service.ts';

t.test('a sync taking over the stale lock of a half-done delete releases it and creates no run', async (t) => {
  const { db } = await testMongo(t);
  const store = createStore(db);
  const box = createSecretBox({ keys: { k1: Buffer.alloc(32, 7) }, currentKeyId: 'k1' });
  const at = new Date('2026-11-01T00:00:00Z');
  const connector: ConnectorDoc = {
    _id: 'c1',
    name: 'Half deleted',
    nameLower: 'half deleted',
    url: 'https://qualysapi.qg2.apps.qualys.com',
    username: 'apiuser',
    password: box.encrypt('Canary-Pa55word-91ac', 'c1'),
    network: 'net',
    reportTitlePrefix: 'PC',
    schedule: null,
    autoUrba: false,
    deleting: { purge: true, lockId: 'delete-1', at },
    createdAt: at,
    updatedAt: at,
  };
  await store.col.connectors.insertOne(connector);
  // the delete's lock, taken long ago and never released (an empty lock is stale after 10 minutes)
  t.equal((await acquireSyncLock(store, 'c1', 'delete-1', at)).acquired, true);
  let dialled = 0;
  let enqueued = 0;
  const r = await planSync(
    {
      store,
      box,
      qualys: () => {
        dialled += 1;
        throw new Error('a sync of a connector being deleted must not dial Qualys');
      },
      enqueue: {
        fetch: async () => {
          enqueued += 1;
          return undefined;
        },
      },
      logger: createLogger('test', 'silent'),
    },
    'sync-9',
    { connectorId: 'c1', trigger: 'schedule', reingest: false },
  );
  t.equal(r.outcome, 'connector-deleting');
  t.equal(dialled, 0, 'Qualys not dialled');
  t.equal(enqueued, 0, 'nothing enqueued');
  t.equal(await store.col.runs.countDocuments({ connectorId: 'c1' }), 0, 'no run recorded');
  t.equal(await store.col.syncLocks.countDocuments({ _id: 'c1' }), 0, 'the lock it took over is released');
});
