/**
 * SIGKILL each worker during a posture sync (3 pages): the fetch worker between two pages, the parse
 * worker while it waits on backpressure, the write worker after some batches were written. Restarted,
 * each run succeeds and its network holds the same hosts and findings as an undisturbed posture sync of
 * the same estate in another network (ids, times and run ids aside).
 *
 * Part of `npm run chaos` (about 3 minutes on a loaded 2-core machine: too slow for `npm test`), against
 * the suite's own database and Redis; by hand: `cd apps/worker-upsert && npx tap test/posture-kill.chaos.ts`.
 */
import t from 'tap';
import type { ScenarioFile } from '@qpc/qualys-sim';
import { waitFor } from '@qpc/testing';
import type { Store } from '@qpc/store/db';
import { startStack, type AppName } from './harness.ts';

const scenario: ScenarioFile = {
  user: { login: 'demo', password: 'demo' },
  // 16 hosts x 3 controls x 1-2 instances: about 70 rows, 3 pages of 30
  reports: [{ id: '1601', title: 'QPC-T PostureKill', launched: '-1d', seed: 1601, size: { hosts: 16, controls: 3, instancesPerControl: 2, policies: 1 }, firstPolicyId: 4601 }],
};
const POSTURE = { source: 'posture' as const, posture: { policyIds: ['4601'] }, reportTitlePrefix: '' };
// the content hash covers the host's id, which names the network; the storage slot comes from the _id
const PER_NETWORK = { _id: 0, network: 0, slot: 0, hostId: 0, contentHash: 0, firstSeen: 0, lastSeen: 0, firstSeenRunId: 0, lastSeenRunId: 0, lastRunId: 0, statusRunId: 0, closedAt: 0, history: 0 };

async function state(store: Store, network: string) {
  const findings = await store.col.findings.find({ network }, { projection: PER_NETWORK }).sort({ findingKey: 1 }).toArray();
  const hosts = await store.col.hosts.find({ network }, { projection: PER_NETWORK }).sort({ hostKey: 1 }).toArray();
  const history = (await store.col.findings.find({ network }, { projection: { findingKey: 1, history: 1 } }).sort({ findingKey: 1 }).toArray()).map(
    (f) => `${f.findingKey}:${f.history.map((h) => `${h.from}>${h.to}:${h.reason}`).join(',')}`,
  );
  return { findings, hosts, history };
}

t.test('SIGKILL of each worker during a posture sync ends in the same database as an undisturbed sync', async (t) => {
  const stack = await startStack(t, { scenario, env: { QPC_POSTURE_PAGE_ROWS: '30', QPC_BATCH_SIZE: '10', QPC_MAX_PENDING_BATCHES: '1' } });
  const restart = async (app: AppName) => {
    await stack.kill(app, 'SIGKILL');
    await stack.start(app);
  };
  for (const app of ['worker-fetch', 'worker-parse', 'worker-upsert'] as const) await stack.start(app);

  const calm = await stack.connector({ network: 'pk-calm', ...POSTURE });
  const [c0] = await stack.sync(calm);
  t.equal(c0?.state, 'succeeded', 'undisturbed posture sync');
  t.equal(c0?.posture?.pages.length, 3, '3 pages');
  const want = await state(stack.store, 'pk-calm');
  t.ok(want.findings.length > 0, `${want.findings.length} findings`);

  // fetch: killed between two pages (the pages come slowly)
  stack.sim.setFaults({ bytesPerSecond: 8_000 });
  const c1 = await stack.connector({ network: 'pk-fetch', ...POSTURE });
  const s1 = await stack.requestSync(c1);
  await waitFor(async () => ((await stack.store.col.runs.findOne({ syncId: s1 }))?.posture?.pages.length ?? 0) >= 1, 60_000, 20);
  await restart('worker-fetch');
  stack.sim.setFaults(null);
  const [r1] = await stack.waitSync(s1, 120_000);
  t.equal(r1?.state, 'succeeded', 'after killing worker-fetch: succeeded');
  t.equal(r1?.posture?.pages.length, 3, 'each page stored once');
  t.same(await state(stack.store, 'pk-fetch'), want, 'after killing worker-fetch: the same hosts and findings');

  // parse: killed while it waits on backpressure (the write worker stopped, one pending batch allowed)
  await stack.kill('worker-upsert', 'SIGTERM');
  const c2 = await stack.connector({ network: 'pk-parse', ...POSTURE });
  const s2 = await stack.requestSync(c2);
  const r2run = await waitFor(async () => stack.store.col.runs.findOne({ syncId: s2 }), 30_000);
  await waitFor(async () => (await stack.store.col.batches.countDocuments({ runId: r2run._id })) >= 1, 60_000, 20);
  await restart('worker-parse');
  await stack.start('worker-upsert');
  const [r2] = await stack.waitSync(s2, 120_000);
  t.equal(r2?.state, 'succeeded', 'after killing worker-parse: succeeded');
  t.same(await state(stack.store, 'pk-parse'), want, 'after killing worker-parse: the same hosts and findings');

  // upsert: killed after some batches were written
  const c3 = await stack.connector({ network: 'pk-upsert', ...POSTURE });
  const s3 = await stack.requestSync(c3);
  const r3run = await waitFor(async () => stack.store.col.runs.findOne({ syncId: s3 }), 30_000);
  await waitFor(async () => (await stack.store.col.batches.countDocuments({ runId: r3run._id, done: { $ne: null } })) >= 1, 60_000, 20);
  await restart('worker-upsert');
  const [r3] = await stack.waitSync(s3, 120_000);
  t.equal(r3?.state, 'succeeded', 'after killing worker-upsert: succeeded');
  t.same(await state(stack.store, 'pk-upsert'), want, 'after killing worker-upsert: the same hosts and findings');
});
