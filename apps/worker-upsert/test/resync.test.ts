/**
 * Recurring syncs through the whole pipeline (the workers as processes, the simulator over HTTP):
 *
 * 1. a report of QPC_TEST_RESYNC_HOSTS x 100 controls, 1-2 instances each (default 115 hosts: ~20,000 findings;
 *    134 hosts gave 23,450: first sync 16.9 s, re-sync 29.3 s, the whole file 89 s on a shared 2-core machine) is synced,
 *    then a report derived from it with 5% of results flipped and 2% of the extra instances dropped; the
 *    findings equal the generator's ground truth after each, and the re-sync wrote only what changed;
 * 2. the same re-sync on a small report with the write worker SIGKILLed while it finalizes (the bulk
 *    rewrite of the changed findings, journaled on FerretDB), restarted: the database equals that of an
 *    undisturbed re-sync of the same reports in another network.
 */
import t from 'tap';
import type { ScenarioFile } from '@qpc/qualys-sim';
import { waitFor } from '@qpc/testing';
import type { Store } from '@qpc/store/db';
import { startStack, groundTruth, WORKERS, type Stack } from './harness.ts';

const HOSTS = Number(process.env.QPC_TEST_RESYNC_HOSTS ?? 115);
const SIZE = { controls: 100, instancesPerControl: 2, policies: 1 };
const MUTATIONS = [{ type: 'flip' as const, percent: 5 }, { type: 'dropInstances' as const, percent: 2 }];
const scenario: ScenarioFile = {
  user: { login: 'demo', password: 'demo' },
  reports: [
    { id: '1301', title: 'QPC-T Resync', launched: '-3h', seed: 1301, size: { hosts: HOSTS, ...SIZE } },
    { id: '1302', title: 'QPC-T Resync', launched: '-2h', state: 'Running', derivedFrom: '1301', mutations: MUTATIONS },
    { id: '1311', title: 'QPC-K Resync', launched: '-3h', seed: 1311, size: { hosts: 20, ...SIZE } },
    { id: '1312', title: 'QPC-K Resync', launched: '-2h', state: 'Running', derivedFrom: '1311', mutations: MUTATIONS },
  ],
};
const STALL = { QPC_LOCK_DURATION_MS: '3000', QPC_STALLED_INTERVAL_MS: '1000' };

function publish(stack: Stack, reportId: string): void {
  const r = stack.sim.scenario.reports.find((x) => x.id === reportId);
  if (!r) throw new Error(`no report ${reportId}`);
  r.state = 'Finished';
}

/** What the findings of `network` must be after these reports: in the last its status, dropped ones closed (URBA). */
function truthAfter(stack: Stack, reportIds: string[]): Map<string, string> {
  const truth = new Map<string, string>();
  for (const id of reportIds) {
    for (const k of truth.keys()) truth.set(k, 'Closed');
    for (const f of groundTruth(stack.sim, id).findings.values()) truth.set(f.findingKey, f.status);
  }
  return truth;
}

async function statusesOf(store: Store, network: string): Promise<Map<string, string>> {
  const docs = await store.col.findings.find({ network }, { projection: { findingKey: 1, status: 1 } }).toArray();
  return new Map(docs.map((d) => [d.findingKey, d.status]));
}

function differences(actual: Map<string, string>, truth: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, s] of truth) if (actual.get(k) !== s) out.push(`${k}: ${actual.get(k) ?? 'missing'}, expected ${s}`);
  for (const k of actual.keys()) if (!truth.has(k)) out.push(`${k}: not in any report`);
  return out;
}

/** A network's findings without what differs between two networks (ids and the slots they give, times, run ids; the content hash covers the host's id). */
async function networkState(store: Store, network: string) {
  const docs = await store.col.findings
    .find(
      { network },
      { projection: { _id: 0, network: 0, hostId: 0, slot: 0, contentHash: 0, firstSeen: 0, lastSeen: 0, firstSeenRunId: 0, lastSeenRunId: 0, statusRunId: 0, closedAt: 0, history: 0 } },
    )
    .sort({ findingKey: 1 })
    .toArray();
  const history = (await store.col.findings.find({ network }, { projection: { findingKey: 1, history: 1 } }).sort({ findingKey: 1 }).toArray()).map(
    (f) => `${f.findingKey}:${f.history.map((h) => `${h.from}>${h.to}:${h.reason}`).join(',')}`,
  );
  return { docs, history };
}

t.test(`a re-sync of ${HOSTS} hosts x 100 controls writes only what changed and equals the ground truth`, async (t) => {
  const stack = await startStack(t, { scenario, apps: WORKERS, env: STALL });
  const connectorId = await stack.connector({ network: 'big', reportTitlePrefix: 'QPC-T Resync' });
  const t0 = Date.now();
  const [first] = await stack.sync(connectorId, { timeoutMs: 600_000 });
  t.comment(`first sync: ${first?.counts.findingsParsed} findings in ${Date.now() - t0} ms`);
  t.equal(first?.state, 'succeeded');
  t.same(differences(await statusesOf(stack.store, 'big'), truthAfter(stack, ['1301'])), [], 'after the first sync: the ground truth');

  publish(stack, '1302');
  const t1 = Date.now();
  const [resync] = await stack.sync(connectorId, { timeoutMs: 600_000 });
  t.comment(`re-sync: ${Date.now() - t1} ms; counts ${JSON.stringify(resync?.counts)}`);
  t.equal(resync?.state, 'succeeded');
  t.same(differences(await statusesOf(stack.store, 'big'), truthAfter(stack, ['1301', '1302'])), [], 'after the re-sync: the ground truth');
  const c = resync!.counts;
  t.equal((c.findingsUnchanged ?? 0) + (c.findingsChanged ?? 0) + c.findingsCreated, c.findingsParsed, 'every finding of the report: unchanged, changed or new');
  t.ok(c.findingsClosed + c.findingsReopened > 0 && c.urbaClosed > 0, `flips closed ${c.findingsClosed} and reopened ${c.findingsReopened}; URBA closed ${c.urbaClosed}`);
  t.ok((c.findingsUnchanged ?? 0) > c.findingsParsed * 0.8, `most findings unchanged (${c.findingsUnchanged} of ${c.findingsParsed})`);
  t.ok((c.docsWritten ?? Infinity) <= (c.findingsChanged ?? 0) + c.urbaClosed, `documents written (${c.docsWritten}) only for changes and URBA`);
});

t.test('SIGKILL of the write worker while it finalizes a re-sync: the same database as an undisturbed one', async (t) => {
  const stack = await startStack(t, { scenario, apps: WORKERS, env: STALL });
  const killed = await stack.connector({ network: 'k-killed', reportTitlePrefix: 'QPC-K Resync' });
  const calm = await stack.connector({ network: 'k-calm', reportTitlePrefix: 'QPC-K Resync' });
  for (const c of [killed, calm]) t.equal((await stack.sync(c, { timeoutMs: 300_000 }))[0]?.state, 'succeeded', 'first sync');
  publish(stack, '1312');
  t.equal((await stack.sync(calm, { timeoutMs: 300_000 }))[0]?.state, 'succeeded', 'undisturbed re-sync');

  const syncId = await stack.requestSync(killed);
  // killed at its journaled rewrite if it is caught (ferretdb mode), else anywhere in its finalize
  const at = await waitFor(
    async () => {
      if ((await stack.store.col.rewrites.countDocuments({})) > 0) return 'rewrite';
      const run = await stack.store.col.runs.findOne({ syncId, state: 'finalizing' });
      return run && (await stack.store.col.findings.countDocuments({ network: 'k-killed', statusRunId: run._id })) > 0 ? 'finalize, some changes applied' : null;
    },
    300_000,
    5,
  );
  await stack.kill('worker-upsert', 'SIGKILL');
  t.comment(`killed during the ${at}`);
  await stack.start('worker-upsert', STALL);
  const [run] = await stack.waitSync(syncId, 300_000);
  t.equal(run?.state, 'succeeded', 'the re-sync completes after the restart');
  t.equal(await stack.store.col.rewrites.countDocuments({}), 0, 'no journal left');
  t.same(differences(await statusesOf(stack.store, 'k-killed'), truthAfter(stack, ['1311', '1312'])), [], 'the ground truth');
  t.same(await networkState(stack.store, 'k-killed'), await networkState(stack.store, 'k-calm'), 'every finding, history included, as in the undisturbed network');
});
