/**
 * Auto URBA (domain.md "Auto URBA") through the real pipeline: the workers as processes, the simulator
 * over HTTP, reports synced one after the other into one network. Every expectation comes from the
 * simulator's ground truth (expectedRecords) run through a model of the domain rules (class Model),
 * never from the code under test; after every sync the whole findings collection is compared with it.
 *
 * Reports (1 policy, 1 instance per control, every result Failed or Error: every finding is Open):
 * - P 8101 "QPC-O": policy 3001, 2 controls on the first 30 hosts; ingested by a second connector of
 *   the same network, so syncs of the main connector never re-read it (findings of another policy on
 *   the same hosts);
 * - A 8001: policy 1234, 100 hosts x 6 controls;
 * - then, published one at a time (Running until then, as a report still being generated):
 *   E 8002 = A without hosts (empty); B 8003 = A without controls 1001-1005 (500 findings gone);
 *   C 8004 = B without 30% of the hosts and without control 1006 on hosts 0-49.
 */
import t, { type Test } from 'tap';
import { expectedRecords, reportByteLength, type ScenarioFile } from '@qpc/qualys-sim';
import type { FindingDoc, RunDoc } from '@qpc/store/db';
import { startStack, WORKERS, type Stack } from './harness.ts';

const ALL_OPEN = { passed: 0, failed: 3, error: 1 };
const DROPPED = ['1001', '1002', '1003', '1004', '1005'];
const TITLE = 'QPC-T Servers';
const scenario: ScenarioFile = {
  user: { login: 'demo', password: 'demo' },
  reports: [
    { id: '8101', title: 'QPC-O Other policy', launched: '-7h', seed: 8101, size: { hosts: 30, controls: 2, instancesPerControl: 1, policies: 1 }, ratios: ALL_OPEN, firstPolicyId: 3001, firstControlId: 2001 },
    { id: '8001', title: TITLE, launched: '-6h', seed: 8001, size: { hosts: 100, controls: 6, instancesPerControl: 1, policies: 1 }, ratios: ALL_OPEN },
    { id: '8002', title: TITLE, launched: '-5h', state: 'Running', derivedFrom: '8001', mutations: [{ type: 'dropHosts', percent: 100 }] },
    { id: '8003', title: TITLE, launched: '-4h', state: 'Running', derivedFrom: '8001', mutations: [{ type: 'dropControls', cids: DROPPED, firstHosts: 100 }] },
    {
      id: '8004',
      title: TITLE,
      launched: '-3h',
      state: 'Running',
      derivedFrom: '8003',
      mutations: [
        { type: 'dropHosts', percent: 30 },
        { type: 'dropControls', cids: ['1006'], firstHosts: 50 },
      ],
    },
  ],
};

interface Truth {
  findings: Map<string, { status: 'Open' | 'Closed'; hostKey: string; policyId: string; controlId: string }>;
  /** `${hostKey}|${policyId}` of every host the report assessed */
  assessed: Set<string>;
  hosts: Set<string>;
}

function truthOf(stack: Stack, reportId: string): Truth {
  const spec = stack.sim.scenario.reports.find((r) => r.id === reportId);
  if (!spec) throw new Error(`no report ${reportId}`);
  const truth: Truth = { findings: new Map(), assessed: new Set(), hosts: new Set() };
  for (const rec of expectedRecords(spec)) {
    if (rec.type === 'host') {
      truth.assessed.add(`${rec.hostKey}|${rec.policyId}`);
      truth.hosts.add(rec.hostKey);
    } else if (rec.type === 'finding') {
      truth.findings.set(rec.findingKey, { status: rec.status, hostKey: rec.hostKey, policyId: rec.policyId, controlId: rec.controlId });
    }
  }
  return truth;
}

interface Expected {
  status: 'Open' | 'Closed';
  hostKey: string;
  policyId: string;
  controlId: string;
  /** history reasons, oldest first */
  reasons: string[];
  /** run of the last status change */
  runId: string;
}

/** The domain rules applied to the ground truth: what the database must hold after each run. */
class Model {
  readonly f = new Map<string, Expected>();

  /** the Open findings URBA would close for this report */
  candidates(truth: Truth): string[] {
    return [...this.f].filter(([k, e]) => e.status === 'Open' && truth.assessed.has(`${e.hostKey}|${e.policyId}`) && !truth.findings.has(k)).map(([k]) => k);
  }

  /** a complete run: create what is new, change statuses, then URBA when it applies; returns the keys URBA closed */
  ingest(truth: Truth, runId: string, urba: boolean): string[] {
    for (const [k, r] of truth.findings) {
      const e = this.f.get(k);
      if (!e) this.f.set(k, { status: r.status, hostKey: r.hostKey, policyId: r.policyId, controlId: r.controlId, reasons: ['new'], runId });
      else if (e.status !== r.status) Object.assign(e, { status: r.status, reasons: [...e.reasons, r.status === 'Closed' ? 'passed' : 'reopened'], runId });
    }
    const closed = urba ? this.candidates(truth) : [];
    for (const k of closed) {
      const e = this.f.get(k) as Expected;
      Object.assign(e, { status: 'Closed', reasons: [...e.reasons, 'urba'], runId });
    }
    return closed;
  }

  open(): number {
    return [...this.f.values()].filter((e) => e.status === 'Open').length;
  }
}

type Doc = Pick<FindingDoc, '_id' | 'findingKey' | 'status' | 'closedReason' | 'closedAt' | 'statusReason' | 'statusRunId' | 'history'>;

async function findings(stack: Stack): Promise<Map<string, Doc>> {
  const docs = await stack.store.col.findings
    .find({}, { projection: { _id: 1, findingKey: 1, status: 1, closedReason: 1, closedAt: 1, statusReason: 1, statusRunId: 1, history: 1 } })
    .toArray();
  return new Map(docs.map((d) => [d.findingKey, d as Doc]));
}

/** every finding of the database against the model: status, closed reason, history, run of the last change */
async function checkDb(t: Test, stack: Stack, model: Model, label: string): Promise<Map<string, Doc>> {
  const docs = await findings(stack);
  t.equal(docs.size, model.f.size, `${label}: ${model.f.size} findings stored`);
  const bad: string[] = [];
  for (const [k, e] of model.f) {
    const d = docs.get(k);
    const reasons = d?.history.map((h) => h.reason).join(',');
    const closedReason = e.status === 'Closed' ? e.reasons[e.reasons.length - 1] : null;
    if (
      !d ||
      d.status !== e.status ||
      (d.closedReason ?? null) !== closedReason ||
      d.statusRunId !== e.runId ||
      reasons !== e.reasons.join(',') ||
      d.history[d.history.length - 1]?.runId !== e.runId
    ) {
      bad.push(`${k}: want ${e.status} ${e.reasons.join(',')} @${e.runId}, got ${d ? `${d.status} ${reasons ?? ''} @${d.statusRunId} closedReason=${d.closedReason}` : 'nothing'}`);
    }
  }
  t.same(bad.slice(0, 5), [], `${label}: every finding as the rules say (${bad.length} differ)`);
  return docs;
}

/** makes a report of the scenario appear Finished on the "server" */
function publish(stack: Stack, reportId: string): void {
  const r = stack.sim.scenario.reports.find((x) => x.id === reportId);
  if (!r) throw new Error(`no report ${reportId}`);
  r.state = 'Finished';
}

function only(runs: RunDoc[], reportId: string): RunDoc {
  const run = runs.find((r) => r.reportId === reportId);
  if (!run) throw new Error(`no run for report ${reportId}: ${runs.map((r) => `${r.reportId}:${r.state}`).join(' ')}`);
  return run;
}

t.test('auto URBA: closes exactly the open findings a complete report no longer has, with every guard rail', async (t) => {
  const started = Date.now();
  const stack = await startStack(t, { scenario, apps: WORKERS });
  // no urbaThreshold of its own: the worker default (50%) applies until the connector sets one
  const connectorId = await stack.connector({ autoUrba: true, reportTitlePrefix: 'QPC-T' });
  const otherId = await stack.connector({ autoUrba: true, reportTitlePrefix: 'QPC-O' });
  const model = new Model();
  const [P, A, E, B, C] = ['8101', '8001', '8002', '8003', '8004'].map((id) => truthOf(stack, id)) as [Truth, Truth, Truth, Truth, Truth];
  // the scenario is what the cases need (checked on the generator, not on the pipeline)
  t.equal(A.findings.size, 600, 'A: 100 hosts x 6 controls');
  t.ok([...A.findings.values()].every((f) => f.status === 'Open'), 'A: every finding Open');
  t.equal(P.findings.size, 60, 'P: 30 hosts x 2 controls of another policy');
  t.ok([...P.findings.values()].every((f) => f.status === 'Open' && f.policyId === '3001' && A.hosts.has(f.hostKey)), 'P: Open, policy 3001, on hosts of A');
  t.equal(E.findings.size + E.hosts.size, 0, 'E: empty');
  t.ok(B.hosts.size === 100 && B.findings.size === 100, 'B: every host of A, control 1006 only');
  t.ok(C.hosts.size > 50 && C.hosts.size < 90, `C: ${C.hosts.size} of the 100 hosts`);
  const timing: string[] = [];
  const sync = async (label: string, id = connectorId, reingest = false) => {
    const t0 = Date.now();
    const runs = await stack.sync(id, { reingest, timeoutMs: 90_000 });
    timing.push(`${label} ${Date.now() - t0} ms`);
    for (const r of runs) {
      const ms = Object.entries(r.timings).map(([stage, v]) => `${stage} ${v.ms ?? '-'}`).join(', ');
      t.comment(`${label}: run ${r.reportId} ${r.state} (${ms} ms)${r.error ? `: ${JSON.stringify(r.error)}` : ''}`);
    }
    return runs.filter((r) => r.reportId !== null);
  };

  // 1. P (policy 3001), then A (policy 1234) on the same hosts: A closes nothing of P
  let runs = await sync('P', otherId);
  t.same(runs.map((r) => [r.reportId, r.state]), [['8101', 'succeeded']], 'P ingested by the other connector');
  model.ingest(P, only(runs, '8101')._id, true);
  runs = await sync('A');
  t.same(runs.map((r) => [r.reportId, r.state]), [['8001', 'succeeded']], 'A ingested');
  const runA = only(runs, '8001');
  t.same(model.ingest(A, runA._id, true), [], 'model: A closes nothing');
  t.equal(runA.counts.findingsCreated, 600, 'A: 600 findings created');
  t.equal(runA.urba?.decision, 'applied', `A: URBA ran (${runA.urba?.reason ?? ''})`);
  t.equal(runA.counts.urbaClosed, 0, 'A: urbaClosed 0 (the other policy untouched)');
  await checkDb(t, stack, model, 'after A');

  // 2. an empty report closes nothing
  publish(stack, '8002');
  runs = await sync('empty');
  t.same(runs.map((r) => [r.reportId, r.state]), [['8002', 'succeeded']], 'empty report ingested');
  t.equal(only(runs, '8002').counts.urbaClosed, 0, 'empty: urbaClosed 0');
  t.equal(only(runs, '8002').urba?.decision, 'skipped', `empty: URBA skipped (${only(runs, '8002').urba?.reason ?? ''})`);
  t.same(model.ingest(E, only(runs, '8002')._id, true), [], 'model: nothing');
  await checkDb(t, stack, model, 'after the empty report');

  // 3. B, default threshold 50%: 500 of 660 open findings would close: stopped for review. Its
  // download is cut once half-way (no Content-Length): the client resumes it, the run is complete.
  // (A report that stays cut, or is broken in the middle, closes nothing: failures.test.ts.)
  publish(stack, '8003');
  const wouldClose = model.candidates(B);
  t.equal(wouldClose.length, 500, 'model: B would close 5 controls on 100 hosts');
  t.ok(wouldClose.every((k) => DROPPED.includes(model.f.get(k)?.controlId ?? '')), 'model: only the dropped controls');
  const openBefore = model.open();
  t.equal(openBefore, 660, 'model: 660 open findings in the network');
  const bSpec = stack.sim.scenario.reports.find((r) => r.id === '8003');
  stack.sim.setFaults({ truncateAtByte: Math.floor(reportByteLength(bSpec as NonNullable<typeof bSpec>) / 2), contentLength: false, times: 1 }, '8003');
  runs = await sync('threshold');
  stack.sim.setFaults(null, '8003');
  t.ok((stack.sim.stats().fetches['8003'] ?? 0) >= 2, 'the cut download was fetched again');
  const stopped = only(runs, '8003');
  t.equal(stopped.state, 'succeeded', 'threshold: B ingested (the cut was resumed)');
  t.equal(stopped.parse?.complete, true, 'threshold: read to its end');
  t.equal(stopped.urba?.decision, 'threshold', `threshold: URBA stopped (${stopped.urba?.reason ?? ''})`);
  t.equal(stopped.review, true, 'threshold: run marked for review');
  t.equal(stopped.urba?.candidates, 500, 'threshold: 500 candidates counted');
  t.equal(stopped.urba?.openBefore, openBefore, `threshold: ${openBefore} open before`);
  t.equal(stopped.urba?.closed, 0, 'threshold: urba.closed 0');
  t.equal(stopped.counts.urbaClosed, 0, 'threshold: urbaClosed 0');
  const docs = await findings(stack);
  const keyById = new Map([...docs.values()].map((d) => [d._id, d.findingKey]));
  const sample = stopped.urba?.sample ?? [];
  t.equal(sample.length, 50, 'threshold: a sample of 50 that would close');
  t.ok(sample.every((id) => wouldClose.includes(keyById.get(id) ?? '')), 'threshold: the sample is among the findings that would close');
  model.ingest(B, stopped._id, false);
  await checkDb(t, stack, model, 'after the threshold stop');

  // 4. the connector's own threshold 90%: re-ingesting B closes exactly those 500
  await stack.store.col.connectors.updateOne({ _id: connectorId }, { $set: { urbaThreshold: 0.9 } });
  runs = await sync('urba', connectorId, true);
  t.same(runs.map((r) => [r.reportId, r.state, r.attempt]), [['8003', 'succeeded', 2]], 'urba: B re-ingested');
  const run = only(runs, '8003');
  const closed = model.ingest(B, run._id, true);
  t.same([...closed].sort(), [...wouldClose].sort(), 'model: the same 500');
  t.equal(run.urba?.decision, 'applied', `urba: applied (${run.urba?.reason ?? ''})`);
  t.equal(run.review, false, 'urba: no review');
  t.ok((run.timings.finalize.ms ?? 0) > 0, `urba: the finalize stage's time is recorded (${run.timings.finalize.ms ?? '-'} ms)`);
  t.equal(run.counts.urbaClosed, 500, 'urba: counts.urbaClosed 500');
  t.equal(run.urba?.closed, 500, 'urba: urba.closed 500');
  t.equal(run.counts.findingsClosed + run.counts.findingsReopened + run.counts.findingsCreated, 0, 'urba: nothing else closed, reopened or created');
  const after = await checkDb(t, stack, model, 'after URBA');
  const bad = closed.filter((k) => {
    const d = after.get(k);
    const h = d?.history[d.history.length - 1];
    return !d || d.closedReason !== 'urba' || d.statusReason !== 'urba' || !(d.closedAt instanceof Date) || !h || h.from !== 'Open' || h.to !== 'Closed' || h.reason !== 'urba' || h.runId !== run._id;
  });
  t.same(bad, [], 'urba: each of the 500 closed with reason urba, closedAt and a history entry Open -> Closed of this run');
  t.same([...P.findings.keys()].filter((k) => after.get(k)?.status !== 'Open'), [], 'urba: the other policy\'s findings on the same hosts stay Open');
  t.same([...B.findings.keys()].filter((k) => after.get(k)?.status !== 'Open'), [], 'urba: the 100 findings still in B stay Open');

  // 5. C: 30% of the hosts absent, control 1006 gone from hosts 0-49: only present hosts' findings close
  publish(stack, '8004');
  const absent = [...A.hosts].filter((h) => !C.hosts.has(h));
  const absentOpen = [...model.f].filter(([, e]) => absent.includes(e.hostKey) && e.status === 'Open').map(([k]) => k);
  const hostsBefore = new Map((await stack.store.col.hosts.find({ hostKey: { $in: absent } }).toArray()).map((h) => [h.hostKey, h.lastRunId]));
  runs = await sync('absent hosts');
  const runC = only(runs, '8004');
  t.equal(runC.state, 'succeeded', 'C ingested');
  t.equal(runC.counts.hostsParsed, C.hosts.size, `C: ${C.hosts.size} hosts parsed (those without results included)`);
  const closedC = model.ingest(C, runC._id, true);
  t.ok(closedC.length > 10 && closedC.every((k) => model.f.get(k)?.controlId === '1006' && C.hosts.has(model.f.get(k)?.hostKey ?? '')), `model: C closes 1006 on ${closedC.length} present hosts`);
  t.equal(runC.urba?.decision, 'applied', `C: applied (${runC.urba?.reason ?? ''})`);
  t.equal(runC.counts.urbaClosed, closedC.length, `C: urbaClosed ${closedC.length}`);
  const afterC = await checkDb(t, stack, model, 'after C');
  t.ok(absentOpen.length >= absent.length, `C: ${absent.length} absent hosts with ${absentOpen.length} open findings (1006, and 3001 on some)`);
  t.same(absentOpen.filter((k) => afterC.get(k)?.status !== 'Open' || afterC.get(k)?.history.length !== after.get(k)?.history.length), [], 'C: findings of absent hosts untouched');
  const hostsAfter = await stack.store.col.hosts.find({ hostKey: { $in: absent } }).toArray();
  t.ok(hostsAfter.length === absent.length && hostsAfter.every((h) => h.lastRunId === hostsBefore.get(h.hostKey) && h.lastRunId !== runC._id), 'C: absent hosts not marked seen by C');
  t.equal([...afterC.values()].filter((d) => d.history.filter((h) => h.reason === 'urba').length > 1).length, 0, 'C: no finding closed twice (the 500 closed by B are absent again)');

  // 6. an identical report again closes nothing (P: every open finding of its hosts and policy is in it)
  runs = await sync('identical', otherId, true);
  t.same(runs.map((r) => [r.reportId, r.state, r.attempt]), [['8101', 'succeeded', 2]], 'identical: P again');
  t.equal(only(runs, '8101').counts.urbaClosed, 0, 'identical: urbaClosed 0');
  t.equal(only(runs, '8101').urba?.candidates, 0, 'identical: no candidate');
  t.equal(only(runs, '8101').urba?.decision, 'applied', `identical: URBA ran (${only(runs, '8101').urba?.reason ?? ''})`);
  t.same(model.ingest(P, only(runs, '8101')._id, true), [], 'model: nothing');
  await checkDb(t, stack, model, 'after the identical re-ingest');

  t.comment(`syncs: ${timing.join(', ')}; total ${Date.now() - started} ms`);
});
