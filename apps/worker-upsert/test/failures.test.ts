/**
 * Runs that fail change no finding's status. One pipeline (the workers as separate processes, the
 * simulator over HTTP) and one connector with URBA on: a first report is ingested (Open and Closed
 * findings with a history), then three syncs fail, each with a report that a complete run would use
 * to close, reopen and URBA-close findings:
 *
 * 1. a cut download (a report derived from the first): every answer is cut half-way and cannot be
 *    resumed (the report's ETag changes with every answer, so the client refuses to splice); every fetch
 *    attempt fails: the run is `failed` and nothing at all is written;
 * 2. a failed batch (the same derived report, which the next sync takes again): one staged write batch
 *    cannot be written (its document in MongoDB is damaged while the upsert worker is stopped: one
 *    finding record is null), a TypeError that no retry can cure, so its upsert job fails for good at its
 *    first attempt (no backoff skipped: a job that retried would not end within the wait): the run ends
 *    `partial` promptly, the other batches are written, their parked status changes are dropped, no URBA;
 * 3. a malformed report (a newer, larger report of the same hosts and controls): a closing tag in the
 *    middle is renamed, the download itself is whole; the records read before the break are written, the
 *    run ends `partial`, the status changes they parked are dropped, no URBA.
 *
 * Each case compares with the state captured just before its failing run (each finding's status, closed
 * and reopened marks and whole history; findings per status, counted by the database) and checks that
 * its report WOULD have changed statuses (flips among the findings the run wrote, URBA candidates), so a
 * pipeline that applied the changes of an incomplete run fails here.
 *
 * BullMQ's retry backoff (2 s doubling, up to a minute) is skipped by promoting the failing stage's delayed jobs: the
 * attempts and the final failure are the workers' own, only the waits are shortened.
 */
import t from 'tap';
import { jobOptions, type QueueName } from '@qpc/jobs';
import { reportDigest, type ScenarioFile, type ScenarioReport } from '@qpc/qualys-sim';
import type { FindingDoc, RunDoc, Store } from '@qpc/store/db';
import { encodeBatchRecords, getBatch } from '@qpc/store/pipeline';
import { hasHash, keyHash, seenByRun } from '@qpc/store/inventory';
import { waitFor } from '@qpc/testing';
import { startStack, groundTruth, dbState, WORKERS, type Stack } from './harness.ts';

const BATCH_SIZE = 50;
const FETCH_ATTEMPTS = jobOptions.fetch.attempts ?? 1;
const UPSERT_ATTEMPTS = jobOptions.upsert.attempts ?? 1;
const NETWORK = 'f-net';
const scenario: ScenarioFile = {
  user: { login: 'demo', password: 'demo' },
  reports: [
    { id: '711', title: 'QPC-F Servers', launched: '-3d', seed: 711, size: { hosts: 20, controls: 4, instancesPerControl: 2, policies: 1 } },
    // two write batches: flips, dropped hosts, controls and instances
    {
      id: '712',
      title: 'QPC-F Servers',
      launched: '-2d',
      derivedFrom: '711',
      mutations: [
        { type: 'flip', percent: 30 },
        { type: 'dropHosts', percent: 10 },
        { type: 'dropControls', cids: ['1002'], firstHosts: 6 },
        { type: 'dropInstances', percent: 30 },
      ],
    },
    // The parser hands records on in groups of 500, so the malformed report needs more than 500 records
    // before its break: the same hosts and controls and more (other results), control 1002 dropped on the
    // first hosts.
    {
      id: '713',
      title: 'QPC-F Servers',
      launched: '-1d',
      seed: 713,
      size: { hosts: 55, controls: 6, instancesPerControl: 2, policies: 1 },
      mutations: [{ type: 'dropControls', cids: ['1002'], firstHosts: 6 }],
    },
  ],
};

const started = Date.now();
const stack = await startStack(t, { scenario, apps: WORKERS, env: { QPC_BATCH_SIZE: String(BATCH_SIZE) } });

// The later reports are held back (a sync takes only the newest report of a title) and appear on the
// server as newly finished reports would.
const held = new Map<string, ScenarioReport>();
for (const id of ['712', '713']) {
  const i = stack.sim.scenario.reports.findIndex((r) => r.id === id);
  held.set(id, stack.sim.scenario.reports.splice(i, 1)[0] as ScenarioReport);
}
function publish(reportId: string): ScenarioReport {
  const r = held.get(reportId);
  if (!r) throw new Error(`report ${reportId} is not held back`);
  stack.sim.scenario.reports.push(r);
  return r;
}

const connectorId = await stack.connector({ network: NETWORK, reportTitlePrefix: 'QPC-F', autoUrba: true, urbaThreshold: 1 });
const first = await stack.sync(connectorId, { timeoutMs: 60_000 });
if (first.map((r) => `${r.reportId}:${r.state}`).join() !== '711:succeeded') throw new Error(`first sync: ${JSON.stringify(first.map((r) => [r.reportId, r.state, r.error]))}`);
t.comment(`pipeline up and first report ingested: ${Date.now() - started} ms`);

/** Promotes the delayed (backing-off) jobs of a queue until stopped, so retries happen at once. */
function skipBackoff(s: Stack, queue: QueueName): () => Promise<number> {
  let on = true;
  let promoted = 0;
  const loop = (async () => {
    while (on) {
      for (const job of await s.enqueuer.queue(queue).getDelayed()) {
        await job.promote().then(
          () => promoted++,
          () => undefined,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    on = false;
    await loop;
    return promoted;
  };
}

type StatusView = Pick<FindingDoc, 'findingKey' | 'status' | 'testStatus' | 'closedAt' | 'closedReason' | 'reopenCount' | 'statusRunId' | 'statusReason' | 'history' | 'pending'>;

/** Everything about the status of the findings of a network (of these keys only, when given), history included. */
async function statuses(store: Store, network: string, keys?: string[]): Promise<StatusView[]> {
  return store.col.findings
    .find(keys ? { network, findingKey: { $in: keys } } : { network }, {
      projection: { _id: 0, findingKey: 1, status: 1, testStatus: 1, closedAt: 1, closedReason: 1, reopenCount: 1, statusRunId: 1, statusReason: 1, history: 1, pending: 1 },
    })
    .sort({ findingKey: 1 })
    .toArray() as Promise<StatusView[]>;
}

function withoutTestStatus(f: StatusView): Omit<StatusView, 'testStatus'> {
  const { testStatus: _t, ...rest } = f;
  return rest;
}

/** Findings per status and history entries, counted by the database (of these keys only, when given). */
async function perStatus(store: Store, network: string, keys?: string[]): Promise<Record<string, number>> {
  const filter = keys ? { network, findingKey: { $in: keys } } : { network };
  const out: Record<string, number> = {};
  for (const status of ['Open', 'Closed'] as const) out[status] = await store.col.findings.countDocuments({ ...filter, status });
  out.total = await store.col.findings.countDocuments(filter);
  out.historyEntries = (await statuses(store, network, keys)).reduce((n, f) => n + f.history.length, 0);
  return out;
}

/** Open findings URBA would close after this run, were it complete: on hosts it assessed, not seen by it. */
async function urbaCandidates(store: Store, network: string, runId: string): Promise<number> {
  const seen = await seenByRun(store, runId);
  let n = 0;
  for (const a of await store.col.assessments.find({ network, runId }).toArray()) {
    const open = await store.col.findings.find({ network, status: 'Open', hostKey: a.hostKey, policyId: a.policyId }, { projection: { findingKey: 1 } }).toArray();
    n += open.filter((f) => !hasHash(seen, keyHash(f.findingKey))).length;
  }
  return n;
}

/** Findings that existed before and that the failed run's written batches held, and how many of them its report flips. */
async function flipsWritten(s: Stack, network: string, run: RunDoc, before: StatusView[]): Promise<{ written: number; flips: number }> {
  const truth = groundTruth(s.sim, run.reportId as string);
  const was = new Map(before.map((f) => [f.findingKey, f.status]));
  const seen = await seenByRun(s.store, run._id);
  const written = before.filter((f) => hasHash(seen, keyHash(f.findingKey)));
  return { written: written.length, flips: written.filter((f) => truth.findings.get(f.findingKey)?.status !== was.get(f.findingKey)).length };
}

async function timed<T>(tt: { comment(m: string): void }, what: string, p: Promise<T>): Promise<T> {
  const t0 = Date.now();
  const r = await p;
  tt.comment(`${what}: ${Date.now() - t0} ms`);
  return r;
}

t.test('a cut download that cannot be resumed: run failed, nothing written, closed or reopened', async (t) => {
  const before = {
    db: await dbState(stack.store),
    statuses: await statuses(stack.store, NETWORK),
    counts: await perStatus(stack.store, NETWORK),
    assessments: await stack.store.col.assessments.find({ network: NETWORK }).sort({ _id: 1 }).toArray(),
  };
  t.ok(before.counts.Open! > 0 && before.counts.Closed! > 0, `the first sync left Open and Closed findings (${JSON.stringify(before.counts)})`);

  const report = publish('712');
  const truth = groundTruth(stack.sim, '712');
  const flips = before.statuses.filter((f) => truth.findings.has(f.findingKey) && truth.findings.get(f.findingKey)?.status !== f.status).length;
  t.ok(flips > 0, `ingested, this report would change the status of ${flips} findings`);
  // every answer is cut half-way, and the report's ETag changes with every answer: a Range resume
  // (If-Range) gets the whole body again under another ETag, which the client must not splice
  const { bytes } = await reportDigest(report);
  stack.sim.setFaults({ resetAtByte: Math.floor(bytes / 2), times: 1000, changingEtag: true }, '712');
  const answersBefore = stack.sim.stats().fetches['712'] ?? 0;
  const stop = skipBackoff(stack, 'fetch');
  const runs = await timed(t, "failing sync", stack.sync(connectorId, { timeoutMs: 180_000 }));
  const promoted = await stop();
  stack.sim.setFaults(null, '712');

  t.same(runs.map((r) => [r.reportId, r.state]), [['712', 'failed']], 'the run failed');
  const run = runs[0] as RunDoc;
  t.match(run.error, { class: 'QualysError:QUALYS_BODY_CHANGED', message: /\(action=fetch, id=712\): the ETag changed between answers/, stage: 'fetch' }, `a clear error in the run record: ${JSON.stringify(run.error)}`);
  const answers = (stack.sim.stats().fetches['712'] ?? 0) - answersBefore;
  t.ok(answers >= 2 * FETCH_ATTEMPTS, `each of the ${FETCH_ATTEMPTS} fetch attempts was cut and could not resume (${answers} answers, ${promoted} backoffs skipped)`);
  const job = (await stack.enqueuer.queue('fetch').getFailed()).find((j) => j.data.runId === run._id);
  t.equal(job?.attemptsMade, FETCH_ATTEMPTS, `the fetch job failed for good after its ${FETCH_ATTEMPTS} attempts`);
  t.equal(run.file, null, 'no report file recorded');
  t.equal(await stack.store.db.collection('report_files.files').countDocuments({ _id: `run-${run._id}` as never }), 0, 'no partial file left in GridFS');
  t.equal(await stack.store.db.collection('report_files.chunks').countDocuments({ files_id: `run-${run._id}` }), 0, 'no orphan chunks');
  t.equal(run.parse, null, 'never parsed');
  t.equal(await stack.store.col.batches.countDocuments({ runId: run._id }), 0, 'no batch staged');
  t.same([run.counts.findingsCreated, run.counts.findingsUpdated, run.counts.findingsClosed, run.counts.findingsReopened, run.counts.urbaClosed], [0, 0, 0, 0, 0], 'counts: nothing created, updated, closed or reopened');
  t.equal(await stack.store.col.reports.countDocuments({ connectorId, reportId: '712' }), 0, 'the report is not recorded as ingested (the next sync takes it again)');

  t.same(await perStatus(stack.store, NETWORK), before.counts, 'findings per status, total and history entries unchanged');
  t.same(await statuses(stack.store, NETWORK), before.statuses, 'every finding: status, test status, closed/reopened marks and whole history unchanged');
  t.same(await dbState(stack.store), before.db, 'hosts and findings unchanged (every field but times and run ids)');
  t.same(await stack.store.col.assessments.find({ network: NETWORK }).sort({ _id: 1 }).toArray(), before.assessments, 'assessments unchanged');
  t.equal(await stack.store.col.findings.countDocuments({ network: NETWORK, lastSeenRunId: run._id }), 0, 'no finding touched by the failed run');
  t.equal(await stack.store.col.hosts.countDocuments({ network: NETWORK, lastRunId: run._id }), 0, 'no host touched by the failed run');
});

t.test('a write batch that fails with a programming error: no retries, run partial at once, closes and reopens nothing', async (t) => {
  const before = { statuses: await statuses(stack.store, NETWORK), counts: await perStatus(stack.store, NETWORK), hosts: await stack.store.col.hosts.countDocuments({ network: NETWORK }) };
  const truth = groundTruth(stack.sim, '712');
  t.ok(truth.findings.size > BATCH_SIZE, `more than one write batch (${truth.findings.size} findings)`);

  // the upsert worker is stopped: the sync's batches stay staged once the report is parsed
  await stack.kill('worker-upsert', 'SIGTERM');
  const syncId = await stack.requestSync(connectorId);
  const staged = await waitFor(
    async () => {
      const r = await stack.store.col.runs.findOne({ syncId });
      return r?.state === 'writing' && r.parse && (await stack.store.col.batches.countDocuments({ runId: r._id })) === r.parse.batches ? r : null;
    },
    60_000,
    200,
  );
  t.equal(staged.reportId, '712', 'the next sync takes the report whose download failed');
  // the first batch's document is damaged: one finding record is null, which writeBatch cannot write
  const first = await getBatch(stack.store, staged._id, 0);
  const records = encodeBatchRecords({ hosts: first.hosts, findings: [null as never, ...first.findings.slice(1)] });
  const damaged = await stack.store.col.batches.updateOne({ runId: staged._id, seq: 0 }, { $set: { records } });
  t.equal(damaged.modifiedCount, 1, 'the first staged batch is damaged');
  // no backoff is skipped here: the 14 retries of a transient error would take about ten minutes
  await stack.start('worker-upsert');
  const runs = await timed(t, 'failing sync', stack.waitSync(syncId, 60_000));

  t.same(runs.map((r) => [r.reportId, r.state, r.attempt]), [['712', 'partial', 2]], 'the run (the second of this report) is partial');
  const run = runs[0] as RunDoc;
  const batches = await stack.store.col.batches.find({ runId: run._id }, { projection: { records: 0 } }).sort({ seq: 1 }).toArray();
  t.same(batches.filter((b) => b.failed).map((b) => b.seq), [0], `the first batch failed, the ${batches.length - 1} others were written`);
  t.match(batches[0]?.failed?.message, /^TypeError: Cannot read properties of null/, `the batch failure says why: ${batches[0]?.failed?.message}`);
  t.match(run.error, { class: 'RUN_INCOMPLETE', message: `1 of ${batches.length} batches failed`, stage: 'finalize' }, `a clear error in the run record: ${JSON.stringify(run.error)}`);
  t.equal(run.counts.batchesFailed, 1, 'counted as a failed batch');
  t.equal(run.parse?.complete, true, 'the report itself was read to its end');
  const jobs = (await stack.enqueuer.queue('upsert').getFailed()).filter((j) => j.data.runId === run._id);
  t.same(jobs.map((j) => [j.data.seq, j.attemptsMade]), [[0, 1]], `its upsert job failed for good at its first attempt (of ${UPSERT_ATTEMPTS} a transient error gets)`);
  t.match(jobs[0]?.failedReason, /^TypeError: Cannot read properties of null/, `the job's reason names the error: ${jobs[0]?.failedReason}`);
  t.match(run.urba, { decision: 'skipped', reason: /not every batch was written/, closed: 0 }, `URBA skipped: ${run.urba?.reason}`);
  t.same([run.counts.findingsClosed, run.counts.findingsReopened, run.counts.urbaClosed], [0, 0, 0], 'counts: nothing closed or reopened');
  t.equal(await stack.store.col.reports.countDocuments({ connectorId, reportId: '712' }), 0, 'not recorded as ingested');

  const w = await flipsWritten(stack, NETWORK, run, before.statuses);
  t.ok(w.written > 0 && w.written < truth.findings.size, `the other batches were written (${w.written} of ${truth.findings.size} findings)`);
  t.ok(w.flips > 0, `${w.flips} of them flip in this report: a complete run would close or reopen them`);
  const candidates = await urbaCandidates(stack.store, NETWORK, run._id);
  t.ok(candidates > 0, `${candidates} Open findings on hosts the run assessed were not in it: URBA would close them`);

  t.same(await perStatus(stack.store, NETWORK), before.counts, 'findings per status, total and history entries unchanged');
  t.same(await statuses(stack.store, NETWORK), before.statuses, 'every finding: status, test status, closed/reopened marks and whole history unchanged');
  t.equal(await stack.store.col.findings.countDocuments({ network: NETWORK, pending: { $ne: null } }), 0, 'the parked status changes were dropped');
  t.equal(await stack.store.col.findings.countDocuments({ network: NETWORK, firstSeenRunId: run._id }), 0, 'no finding created');
  t.equal(await stack.store.col.hosts.countDocuments({ network: NETWORK }), before.hosts, 'no host created');
});

t.test('a malformed report (XML broken in the middle): run partial, parked changes dropped, no URBA', async (t) => {
  const before = { statuses: await statuses(stack.store, NETWORK), counts: await perStatus(stack.store, NETWORK) };
  const keys = before.statuses.map((f) => f.findingKey);

  const report = publish('713');
  // the download is whole (its length, ETag and root end as declared); the first closing tag 90% in is renamed
  const { bytes } = await reportDigest(report);
  stack.sim.setFaults({ malformAtByte: Math.floor(bytes * 0.9) }, '713');
  const runs = await timed(t, "failing sync", stack.sync(connectorId, { timeoutMs: 180_000 }));
  stack.sim.setFaults(null, '713');

  t.same(runs.map((r) => [r.reportId, r.state]), [['713', 'partial']], 'the run is partial');
  const run = runs[0] as RunDoc;
  t.match(run.error, { class: 'ReportError:MALFORMED_XML', message: /^closing tag <\/X\w*> where <\w+> \(line \d+\) is open/, stage: 'parse' }, `a clear error in the run record: ${JSON.stringify(run.error)}`);
  t.equal(run.parse?.complete, false, 'the parse is recorded as incomplete');
  t.equal(run.file?.length, bytes, 'the download itself was whole');
  t.ok(run.counts.batchesWritten >= 1 && run.counts.batchesFailed === 0, `the batches read before the break were written (${run.counts.batchesWritten})`);
  t.match(run.urba, { decision: 'skipped', reason: /not read to its explicit end/, closed: 0 }, `URBA skipped: ${run.urba?.reason}`);
  t.same([run.counts.findingsClosed, run.counts.findingsReopened, run.counts.urbaClosed], [0, 0, 0], 'counts: nothing closed or reopened');
  t.equal(await stack.store.col.reports.countDocuments({ connectorId, reportId: '713' }), 0, 'not recorded as ingested');

  // what the run wrote would have changed statuses, had it been complete
  const w = await flipsWritten(stack, NETWORK, run, before.statuses);
  t.ok(w.written > 0, `${w.written} of the ${keys.length} existing findings were written before the break`);
  t.ok(w.flips > 0, `${w.flips} of them flip in this report: a complete run would close or reopen them`);
  const candidates = await urbaCandidates(stack.store, NETWORK, run._id);
  t.ok(candidates > 0, `${candidates} Open findings on hosts the run assessed were not in it: URBA would close them`);

  t.same(await perStatus(stack.store, NETWORK, keys), before.counts, 'existing findings per status, and their history entries, unchanged');
  // the test status is an observation: Failed <-> Error (both Open) is written at once, a change of status is not
  const after = await statuses(stack.store, NETWORK, keys);
  t.same(after.map(withoutTestStatus), before.statuses.map(withoutTestStatus), 'every existing finding: status, closed/reopened marks and whole history unchanged');
  const testWas = new Map(before.statuses.map((f) => [f.findingKey, f.testStatus]));
  const retested = after.filter((f) => f.testStatus !== testWas.get(f.findingKey));
  t.ok(
    retested.every((f) => f.status === 'Open' && f.testStatus !== 'Passed' && testWas.get(f.findingKey) !== 'Passed'),
    `test statuses changed only between Failed and Error on Open findings (${retested.length}), never to or from Passed`,
  );
  t.equal(await stack.store.col.findings.countDocuments({ network: NETWORK, pending: { $ne: null } }), 0, 'the parked status changes were dropped');
  // findings new in this report and read before the break were created, as new, with nothing else
  const created = await stack.store.col.findings.find({ network: NETWORK, firstSeenRunId: run._id }).toArray();
  const truth = groundTruth(stack.sim, '713');
  t.equal(created.length + w.written, (await seenByRun(stack.store, run._id)).length, 'every finding the run wrote existed before or was created by it');
  t.ok(
    created.length > 0 && created.every((f) => !keys.includes(f.findingKey) && f.history.length === 1 && f.history[0]?.reason === 'new' && f.status === truth.findings.get(f.findingKey)?.status),
    `the ${created.length} findings it created carry only their "new" status from the report`,
  );
  t.comment(`since the start of the file: ${Date.now() - started} ms`);
});

t.test('retrying the failed batch of a run a later run superseded (Bull Board): refused at once, nothing changes', async (t) => {
  const partial = await stack.store.col.runs.findOne({ connectorId, reportId: '712', state: 'partial' });
  t.ok(partial, 'the run of the failed batch');
  if (!partial) return;
  const queue = stack.enqueuer.queue('upsert');
  const job = (await queue.getFailed()).find((j) => j.data.runId === partial._id);
  t.ok(job, 'its failed upsert job');
  if (!job) return;
  const before = { statuses: await statuses(stack.store, NETWORK), batch: await stack.store.col.batches.findOne({ runId: partial._id, seq: job.data.seq }, { projection: { records: 0 } }) };
  const attempts = job.attemptsMade;
  await job.retry();
  const again = await waitFor(
    async () => {
      const j = await queue.getJob(String(job.id));
      return j && (await j.getState()) === 'failed' && j.failedReason !== job.failedReason ? j : null;
    },
    30_000,
    100,
  );
  t.match(again.failedReason, /^RUN_SUPERSEDED: run \S+ \(report 712\) is not retried: a later run of its connector \(run \S+, report 713\) has written since/, `the job says why: ${again.failedReason}`);
  t.ok(again.attemptsMade <= attempts + 1, `one attempt, no retries (attempts made ${attempts} -> ${again.attemptsMade})`);
  const run = await stack.store.col.runs.findOne({ _id: partial._id });
  t.match(run, { state: 'partial', resumes: partial.resumes, error: partial.error }, 'the run is as it was');
  t.same(await stack.store.col.batches.findOne({ runId: partial._id, seq: job.data.seq }, { projection: { records: 0 } }), before.batch, 'the batch keeps its own failure');
  t.same(await statuses(stack.store, NETWORK), before.statuses, 'every finding: status and history unchanged');
  t.equal(await stack.store.col.syncLocks.countDocuments({ _id: connectorId }), 0, 'no sync lock left behind');
});
