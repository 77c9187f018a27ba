/**
 * SIGKILL each worker in the middle of its work; after a restart the run completes and the database
 * holds exactly the report's ground truth: no duplicates, nothing lost, one succeeded run.
 */
import t from 'tap';
import type { ScenarioFile } from '@qpc/qualys-sim';
import { waitFor } from '@qpc/testing';
import { startStack, groundTruth, type AppName, type Stack } from './harness.ts';

const scenario: ScenarioFile = {
  user: { login: 'demo', password: 'demo' },
  reports: [{ id: '601', title: 'QPC-T Kill', launched: '-1d', seed: 601, size: { hosts: 16, controls: 3, instancesPerControl: 2, policies: 1 } }],
};

interface Tap {
  equal(a: unknown, b: unknown, m?: string): boolean;
  ok(a: unknown, m?: string): boolean;
  same(a: unknown, b: unknown, m?: string): boolean;
}

async function checkNetwork(t: Tap, stack: Stack, connectorId: string, network: string) {
  const truth = groundTruth(stack.sim, '601');
  const docs = await stack.store.col.findings.find({ network }, { projection: { findingKey: 1, status: 1, testStatus: 1 } }).toArray();
  t.equal(docs.length, truth.findings.size, 'every finding once');
  t.equal(new Set(docs.map((d) => d.findingKey)).size, docs.length, 'no duplicates');
  t.ok(docs.every((d) => truth.findings.get(d.findingKey)?.status === d.status), 'statuses equal the ground truth');
  t.equal(await stack.store.col.hosts.countDocuments({ network }), truth.hosts.size, 'every host once');
  const runs = await stack.store.col.runs.find({ connectorId }).toArray();
  t.same(runs.map((r) => r.state), ['succeeded'], 'one succeeded run in history');
}


t.test('SIGKILL fetch, parse and upsert workers mid-work; restarted, the runs complete exactly', async (t) => {
  const stack = await startStack(t, { scenario, env: { QPC_BATCH_SIZE: '20', QPC_MAX_PENDING_BATCHES: '1' } });
  const restart = async (app: AppName) => {
    await stack.kill(app, 'SIGKILL');
    await stack.start(app);
  };

  // fetch: killed while the download is held back by the simulator
  await stack.start('worker-fetch');
  await stack.start('worker-parse');
  await stack.start('worker-upsert');
  stack.sim.setFaults({ latencyMs: 4000 }, '601');
  const c1 = await stack.connector({ network: 'kill-fetch' });
  const s1 = await stack.requestSync(c1);
  await waitFor(async () => (await stack.store.col.runs.findOne({ syncId: s1, state: 'fetching' })) !== null, 30_000);
  await new Promise((r) => setTimeout(r, 1000));
  await restart('worker-fetch');
  stack.sim.setFaults(null);
  await stack.waitSync(s1, 120_000);
  await t.test('after killing worker-fetch', (tt) => checkNetwork(tt as unknown as Tap, stack, c1, 'kill-fetch'));

  // parse: killed while it waits on backpressure (upsert worker stopped, one pending batch allowed)
  await stack.kill('worker-upsert', 'SIGTERM');
  const c2 = await stack.connector({ network: 'kill-parse' });
  const s2 = await stack.requestSync(c2);
  await waitFor(async () => (await stack.store.col.batches.countDocuments({})) >= 1, 60_000);
  await restart('worker-parse');
  await stack.start('worker-upsert');
  await stack.waitSync(s2, 120_000);
  await t.test('after killing worker-parse', (tt) => checkNetwork(tt as unknown as Tap, stack, c2, 'kill-parse'));

  // upsert: killed after some batches were written
  const c3 = await stack.connector({ network: 'kill-upsert' });
  const s3 = await stack.requestSync(c3);
  await waitFor(async () => (await stack.store.col.batches.countDocuments({ done: { $ne: null } })) >= 1, 60_000, 20);
  await restart('worker-upsert');
  await stack.waitSync(s3, 120_000);
  await t.test('after killing worker-upsert', (tt) => checkNetwork(tt as unknown as Tap, stack, c3, 'kill-upsert'));
});
