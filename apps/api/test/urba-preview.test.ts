/** GET /api/connectors/:id/urba/preview: the candidates of the last complete run, hand-counted, and the finalizer's own dry run agrees. */
import t from 'tap';
import type { AssessmentDoc, FindingDoc, RunDoc } from '@qpc/store/db';
import { applyUrba } from '@qpc/store/inventory';
import { VIEWER, startApi } from './helpers.ts';

const api = await startApi(t);
const make = async (name: string, extra: Record<string, unknown>) =>
  (await api.call('POST', '/api/connectors', {
    body: { name, url: 'https://qualys.example', username: 'u', password: 'p4ss-word', network: 'n1', reportTitlePrefix: 'PC', ...extra },
  })).json.id as string;
const K = await make('k', { autoUrba: true, urbaThreshold: 0.5 });
const EMPTY = await make('empty', {});

const run = (id: string, state: RunDoc['state'], day: number) =>
  ({ _id: id, connectorId: K, syncId: `s-${id}`, index: 0, network: 'n1', reportId: `rep-${id}`, state, createdAt: new Date(Date.UTC(2026, 10, day)), counts: {} }) as unknown as RunDoc;
await api.deps.store.col.runs.insertMany([run('r-old', 'succeeded', 1), run('r-last', 'succeeded', 2), run('r-failed', 'failed', 3)]);
const assess = (hostKey: string, policyId: string, runId: string) =>
  ({ _id: `n1|${hostKey}|${policyId}`, network: 'n1', hostKey, policyId, runId }) as unknown as AssessmentDoc;
await api.deps.store.col.assessments.insertMany([assess('qid:h1', 'P1', 'r-last'), assess('qid:h2', 'P1', 'r-last'), assess('qid:h3', 'P1', 'r-old')]);
const finding = (id: string, network: string, host: string, policyId: string, controlId: string, status: 'Open' | 'Closed', lastSeenRunId: string) =>
  ({ _id: id, network, findingKey: `qid:${host}|${policyId}|${controlId}`, hostKey: `qid:${host}`, hostId: host, policyId, controlId, title: `Control ${controlId}`, status, lastSeenRunId }) as unknown as FindingDoc;
await api.deps.store.col.findings.insertMany([
  finding('u1', 'n1', 'h1', 'P1', '1', 'Open', 'r-old'), // candidate: assessed host and policy, not seen by the last run
  finding('u2', 'n1', 'h1', 'P1', '2', 'Open', 'r-last'), // seen by the last run
  finding('u3', 'n1', 'h2', 'P1', '1', 'Open', 'r-old'), // candidate
  finding('u4', 'n1', 'h2', 'P2', '1', 'Open', 'r-old'), // policy not assessed by the last run
  finding('u5', 'n1', 'h3', 'P1', '1', 'Open', 'r-old'), // host assessed by an older run only
  finding('u6', 'n1', 'h1', 'P1', '3', 'Closed', 'r-old'), // already closed
  finding('x1', 'n2', 'h1', 'P1', '1', 'Open', 'r-old'), // another network
]);

t.test('candidates of the last complete run, the threshold, and a sample', async (t) => {
  const r = await api.call('GET', `/api/connectors/${K}/urba/preview`, { token: VIEWER });
  t.equal(r.status, 200, r.text);
  t.equal(r.json.runId, 'r-last', 'the newest succeeded run, not the later failed one');
  t.equal(r.json.candidates, 2);
  t.equal(r.json.openBefore, 5);
  t.equal(r.json.threshold, 0.5);
  t.equal(r.json.wouldStop, false, '2 of 5 is under half');
  t.same(r.json.sample, [
    { id: 'u1', hostKey: 'qid:h1', controlId: '1', title: 'Control 1' },
    { id: 'u3', hostKey: 'qid:h2', controlId: '1', title: 'Control 1' },
  ]);

  // the finalizer's own dry run over the same data counts the same
  const last = (await api.deps.store.col.runs.findOne({ _id: 'r-last' }))!;
  const { urba } = await applyUrba(api.deps.store, last, {
    autoUrba: true, dryRun: true, threshold: 0.5,
    completeness: { readToEnd: true, allBatchesWritten: true, findingsParsed: 1, findingsWritten: 1, rejected: 0, hostsParsed: 1 },
  });
  t.equal(urba.decision, 'dry-run');
  t.equal(urba.candidates, r.json.candidates);
  t.same([...urba.sample].sort(), r.json.sample.map((s: { id: string }) => s.id));
  t.equal(await api.deps.store.col.findings.countDocuments({ status: 'Open' }), 6, 'nothing closed by the preview or the dry run');

  await api.call('PATCH', `/api/connectors/${K}`, { body: { urbaThreshold: 0.3 } });
  const strict = await api.call('GET', `/api/connectors/${K}/urba/preview`, { token: VIEWER });
  t.equal(strict.json.threshold, 0.3);
  t.equal(strict.json.wouldStop, true, '2 of 5 is more than 30%: URBA would stop for review');
});

t.test('a connector without a complete run would close nothing', async (t) => {
  const r = await api.call('GET', `/api/connectors/${EMPTY}/urba/preview`, { token: VIEWER });
  t.equal(r.status, 200);
  t.same({ runId: r.json.runId, candidates: r.json.candidates, wouldStop: r.json.wouldStop, sample: r.json.sample, threshold: r.json.threshold }, { runId: null, candidates: 0, wouldStop: false, sample: [], threshold: 0.5 });
  t.equal((await api.call('GET', '/api/connectors/none/urba/preview', { token: VIEWER })).status, 404);
});
