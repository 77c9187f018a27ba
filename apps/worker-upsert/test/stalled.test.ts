/**
 * Jobs that stall out: their worker process is SIGKILLed while it holds them and BullMQ fails them for good
 * (maxStalledCount 0 here: one stall is too many) in the next worker, WITHOUT running the processor. The run
 * must still end as for any other final failure, its sync lock released:
 *
 * 1. upsert: the worker is killed while it writes a batch (its MongoDB connection is held by a proxy, so the
 *    job is surely in flight); the batch is failed with the stall as its reason, the run ends `partial`, and
 *    the status changes its report would make are not applied: no finding that existed before changes;
 * 2. fetch: the worker is killed while the simulator holds the download back; the run is `failed` (stage
 *    fetch, JobStalledError) and the sync ends;
 * 3. parse: the worker is killed while it waits on backpressure; the run goes on to writing with an
 *    incomplete parse, its staged batch is written, it ends `partial` with the parse's error.
 *
 * Without the final-failure handling of stalled jobs each of these runs stays in writing / fetching /
 * writing forever and the sync lock is never released.
 */
import net from 'node:net';
import t from 'tap';
import type { ScenarioFile, ScenarioReport } from '@qpc/qualys-sim';
import type { FindingDoc, Store } from '@qpc/store/db';
import { hasHash, keyHash, seenByRun } from '@qpc/store/inventory';
import { waitFor } from '@qpc/testing';
import { startStack, groundTruth, WORKERS } from './harness.ts';

/** The stall settings of the workers under test: a lock of 2 s, checked every 0.5 s, no stall allowed. */
const STALL = { QPC_LOCK_DURATION_MS: '2000', QPC_STALLED_INTERVAL_MS: '500', QPC_MAX_STALLED_COUNT: '0' };

const scenario: ScenarioFile = {
  user: { login: 'demo', password: 'demo' },
  reports: [
    { id: '811', title: 'QPC-U Servers', launched: '-3d', seed: 811, size: { hosts: 20, controls: 3, instancesPerControl: 2, policies: 1 } },
    { id: '812', title: 'QPC-U Servers', launched: '-2d', derivedFrom: '811', mutations: [{ type: 'flip', percent: 30 }] },
    { id: '821', title: 'QPC-S Fetch', launched: '-1d', seed: 821, size: { hosts: 8, controls: 2, instancesPerControl: 2, policies: 1 } },
    { id: '831', title: 'QPC-P Parse', launched: '-1d', seed: 831, size: { hosts: 16, controls: 3, instancesPerControl: 2, policies: 1 } },
  ],
};

/** A TCP proxy that can swallow everything from now on: requests through it then never get an answer. */
async function holdingProxy(target: URL) {
  let held = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 27017), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (d) => void (held || upstream.write(d)));
    upstream.on('data', (d) => void (held || client.write(d)));
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: (u: string) => Object.assign(new URL(u), { host: `127.0.0.1:${port}` }).toString(),
    hold: () => void (held = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

type StatusView = Pick<FindingDoc, 'findingKey' | 'status' | 'closedAt' | 'closedReason' | 'reopenCount' | 'statusRunId' | 'history' | 'pending'>;
async function statuses(store: Store, network: string): Promise<StatusView[]> {
  return store.col.findings
    .find({ network }, { projection: { _id: 0, findingKey: 1, status: 1, closedAt: 1, closedReason: 1, reopenCount: 1, statusRunId: 1, history: 1, pending: 1 } })
    .sort({ findingKey: 1 })
    .toArray() as Promise<StatusView[]>;
}

const started = Date.now();
const stack = await startStack(t, { scenario, apps: WORKERS, env: { QPC_BATCH_SIZE: '20' } });
const held = new Map<string, ScenarioReport>();
for (const id of ['812', '821', '831']) {
  const i = stack.sim.scenario.reports.findIndex((r) => r.id === id);
  held.set(id, stack.sim.scenario.reports.splice(i, 1)[0] as ScenarioReport);
}
const publish = (id: string) => stack.sim.scenario.reports.push(held.get(id) as ScenarioReport);
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

t.test('an upsert job whose worker is killed mid-write stalls out: its batch fails, the run ends partial and closes nothing', async (t) => {
  const connectorId = await stack.connector({ network: 'u-net', reportTitlePrefix: 'QPC-U', autoUrba: true, urbaThreshold: 1 });
  const first = await stack.sync(connectorId, { timeoutMs: 60_000 });
  t.same(first.map((r) => `${r.reportId}:${r.state}`), ['811:succeeded'], 'the first report is ingested');
  const before = await statuses(stack.store, 'u-net');

  // A: a worker-upsert whose MongoDB connection goes through a proxy that will stop answering
  await stack.kill('worker-upsert', 'SIGTERM');
  const proxy = await holdingProxy(new URL(stack.env.MONGO_URL as string));
  t.teardown(() => proxy.close());
  await stack.start('worker-upsert', { ...STALL, QPC_WORKER_CONCURRENCY: '1', MONGO_URL: proxy.url(stack.env.MONGO_URL as string) });
  proxy.hold();
  publish('812');
  const syncId = await stack.requestSync(connectorId);
  const upsertQueue = stack.enqueuer.queue('upsert');
  const [active] = await waitFor(async () => {
    const jobs = await upsertQueue.getActive();
    return jobs.length > 0 ? jobs : null;
  }, 60_000);
  await new Promise((r) => setTimeout(r, 500)); // the job is in flight: its first write hangs on the proxy
  await stack.kill('worker-upsert', 'SIGKILL');
  t.comment(`worker-upsert killed holding ${active?.id} at ${elapsed()}`);
  // B: a new worker-upsert finds the job stalled, fails it for good, and writes the other batches
  await stack.start('worker-upsert', STALL);
  const [run] = await stack.waitSync(syncId, 90_000);
  t.comment(`sync ended at ${elapsed()}`);

  t.equal(run?.reportId, '812');
  t.equal(run?.state, 'partial', 'the run ends partial');
  t.match(run?.error, { class: 'RUN_INCOMPLETE', message: /^1 of \d+ batches failed$/, stage: 'finalize' }, 'the run says a batch failed');
  const job = await upsertQueue.getJob(active?.id as string);
  t.equal(await job?.getState(), 'failed', 'the stalled job is failed');
  t.equal(job?.failedReason, 'job stalled more than allowable limit');
  const failed = await stack.store.col.batches.find({ runId: run?._id, failed: { $ne: null } }).toArray();
  t.same(failed.map((b) => b.seq), [active?.data.seq], 'the batch of the stalled job, and only it, is failed');
  t.equal(failed[0]?.done, null, 'it was not written');
  t.match(failed[0]?.failed?.message, /^JobStalledError: job stalled more than allowable limit: the upsert job was left unfinished 1 time/, 'the batch says why');
  t.ok(
    stack.logs.get('worker-upsert')?.some((l) => l.includes('failure recorded') && l.includes('"via":"event"')),
    'the new worker recorded the failure from the failed event',
  );

  const after = await statuses(stack.store, 'u-net');
  const existing = new Set(before.map((f) => f.findingKey));
  t.same(after.filter((f) => existing.has(f.findingKey)), before, 'no finding that existed before changed (status, closing, history)');
  const truth = groundTruth(stack.sim, '812');
  const was = new Map(before.map((f) => [f.findingKey, f.status]));
  // the findings of the batches the run wrote (their keys are on the batches' done marks)
  const seen = await seenByRun(stack.store, run?._id ?? '');
  const written = (await stack.store.col.findings.find({ network: 'u-net' }, { projection: { findingKey: 1 } }).toArray()).filter((f) => hasHash(seen, keyHash(f.findingKey)));
  const flips = written.filter((f) => was.has(f.findingKey) && truth.findings.get(f.findingKey)?.status !== was.get(f.findingKey)).length;
  t.ok(written.length > 0 && flips > 0, `the batches written would have changed statuses (${flips} flips among ${written.length} findings written)`);
  t.equal(run?.urba?.closed ?? 0, 0, 'URBA closed nothing');
});

t.test('a fetch job whose worker is killed mid-download stalls out: the run fails and the sync ends', async (t) => {
  await stack.kill('worker-fetch', 'SIGTERM');
  await stack.start('worker-fetch', STALL);
  publish('821');
  const connectorId = await stack.connector({ network: 's-net', reportTitlePrefix: 'QPC-S' });
  stack.sim.setFaults({ latencyMs: 4000 }, '821');
  const syncId = await stack.requestSync(connectorId);
  await waitFor(async () => (await stack.store.col.runs.findOne({ syncId, state: 'fetching' })) !== null, 30_000);
  await new Promise((r) => setTimeout(r, 1000));
  await stack.kill('worker-fetch', 'SIGKILL');
  stack.sim.setFaults(null);
  await stack.start('worker-fetch', STALL);
  const [run] = await stack.waitSync(syncId, 60_000);
  t.comment(`sync ended at ${elapsed()}`);
  t.equal(run?.state, 'failed', 'the run is failed');
  t.match(run?.error, { class: 'JobStalledError', message: /^job stalled more than allowable limit: the fetch job/, stage: 'fetch' });
  t.equal(await stack.store.col.findings.countDocuments({ network: 's-net' }), 0, 'nothing written');
  t.equal(await stack.store.col.syncLocks.countDocuments({ _id: connectorId }), 0, 'the sync lock is released');
});

t.test('a parse job whose worker is killed mid-parse stalls out: the staged batch is written, the run ends partial', async (t) => {
  await stack.kill('worker-upsert', 'SIGTERM');
  await stack.kill('worker-parse', 'SIGTERM');
  await stack.start('worker-parse', { ...STALL, QPC_MAX_PENDING_BATCHES: '1' });
  publish('831');
  const connectorId = await stack.connector({ network: 'p-net', reportTitlePrefix: 'QPC-P' });
  const syncId = await stack.requestSync(connectorId);
  // the parse waits on backpressure: one batch staged, nobody writing it
  const runId = (await waitFor(() => stack.store.col.runs.findOne({ syncId }), 30_000))._id;
  await waitFor(async () => (await stack.store.col.batches.countDocuments({ runId })) >= 1, 60_000);
  await new Promise((r) => setTimeout(r, 500));
  t.equal((await stack.store.col.runs.findOne({ _id: runId }))?.state, 'parsing', 'killed while parsing');
  await stack.kill('worker-parse', 'SIGKILL');
  const staged = await stack.store.col.batches.countDocuments({ runId });
  await stack.start('worker-parse', STALL);
  await waitFor(async () => (await stack.store.col.runs.findOne({ _id: runId, state: 'writing' })) !== null, 30_000);
  await stack.start('worker-upsert');
  const [run] = await stack.waitSync(syncId, 60_000);
  t.comment(`sync ended at ${elapsed()}`);
  t.equal(run?.state, 'partial', 'the run ends partial');
  t.match(run?.parse, { complete: false, batches: staged }, `the parse is incomplete, its ${staged} staged batch(es) counted`);
  t.ok(staged < 5, 'the report was not read to its end (96 findings, 20 a batch)');
  t.match(run?.error, { class: 'JobStalledError', message: /^job stalled more than allowable limit: the parse job/, stage: 'parse' });
  t.ok((await stack.store.col.findings.countDocuments({ network: 'p-net' })) > 0, 'the staged batch was written');
});
