/**
 * The end of a run: apply the parked status changes (closed as passed, reopened) if the run is
 * complete, then Auto URBA with every guard rail, then derive the run's counts from the documents.
 * Every step is idempotent (compare-and-set on the finding's status or pending mark), so a finalize
 * killed half-way and run again ends in the same state.
 */
import { decideUrba, FINDING_STATUSES, isComplete, statusFromTestStatus, TEST_STATUSES, type RunCompleteness, type UrbaDecision } from '@qpc/domain';
import type { Collection, Document, Filter } from 'mongodb';
import type { Store } from './store.ts';
import type { FindingDoc, RunDoc, RunUrba, StatusChange } from './documents.ts';
import { batchStats, type BatchStats } from './batches.repository.ts';
import { ONE_BATCH } from './one-batch.ts';

/** assessments (host x policy) per URBA candidate filter */
const PAGE = 5000;

export async function runCompleteness(run: RunDoc, stats: BatchStats): Promise<RunCompleteness> {
  const summary = run.parse?.summary ?? null;
  return {
    readToEnd: run.parse?.complete === true && summary !== null,
    allBatchesWritten: stats.failed === 0 && stats.pending === 0 && stats.done === (run.parse?.batches ?? -1),
    findingsParsed: summary?.findings ?? 0,
    findingsWritten: stats.findingsWritten,
    rejected: summary?.rejected ?? 0,
    hostsParsed: summary?.hosts ?? 0,
  };
}

/**
 * Closed as passed / reopened: only for a complete run. Returns how many findings changed status.
 * One multi update per (current status, parked test status): the filter is the compare-and-set (the
 * mark of this run and the status the change starts from), so a finalize run twice changes nothing the
 * second time, and the whole step costs six updates whatever the number of findings.
 */
export async function applyPendingChanges(store: Store, run: RunDoc, now = new Date()): Promise<number> {
  let changed = 0;
  for (const testStatus of TEST_STATUSES) {
    const to = statusFromTestStatus(testStatus);
    for (const from of FINDING_STATUSES) {
      const filter: Filter<FindingDoc> = { 'pending.runId': run._id, 'pending.testStatus': testStatus, status: from };
      if (from === to) {
        await store.col.findings.updateMany(filter, { $set: { testStatus, pending: null } });
        continue;
      }
      const reason: StatusChange['reason'] = to === 'Closed' ? 'passed' : 'reopened';
      const entry: StatusChange = { at: now, runId: run._id, from, to, reason };
      const r = await store.col.findings.updateMany(filter, {
        $set: {
          status: to,
          testStatus,
          statusRunId: run._id,
          statusReason: reason,
          closedAt: to === 'Closed' ? now : null,
          closedReason: to === 'Closed' ? 'passed' : null,
          pending: null,
        },
        $inc: { reopenCount: reason === 'reopened' ? 1 : 0 },
        $push: { history: entry },
      });
      changed += r.modifiedCount;
    }
  }
  return changed;
}

/** A run that is not complete: its parked changes are dropped (it closes and reopens nothing). */
export async function dropPendingChanges(store: Store, runId: string): Promise<void> {
  await store.col.findings.updateMany({ 'pending.runId': runId }, { $set: { pending: null } });
}

/**
 * URBA candidates: Open findings of the network, on a host assessed by this run for the same policy,
 * that this run did not see. Visited in pages of assessments (memory bounded by the page). Exported
 * for the API's URBA preview, which must count what this very rule would close.
 */
export async function forEachCandidateFilter(store: Store, run: RunDoc, fn: (filter: Filter<FindingDoc>) => Promise<void>): Promise<void> {
  let lastId = '';
  for (;;) {
    const page = await store.col.assessments
      .find({ runId: run._id, network: run.network, _id: { $gt: lastId } }, { batchSize: ONE_BATCH, projection: { _id: 1, hostKey: 1, policyId: 1 } })
      .sort({ _id: 1 })
      .limit(PAGE)
      .toArray();
    if (page.length === 0) return;
    lastId = page[page.length - 1]?._id ?? lastId;
    const byPolicy = new Map<string, string[]>();
    for (const a of page) byPolicy.set(a.policyId, [...(byPolicy.get(a.policyId) ?? []), a.hostKey]);
    // one filter per page (each filter costs a read of the collection on FerretDB)
    const scopes = [...byPolicy].map(([policyId, hostKeys]) => ({ policyId, hostKey: { $in: hostKeys } }));
    await fn({ network: run.network, status: 'Open', lastSeenRunId: { $ne: run._id }, ...(scopes.length === 1 ? scopes[0] : { $or: scopes }) });
  }
}

export interface UrbaOutcome {
  decision: UrbaDecision;
  urba: RunUrba;
}

export async function applyUrba(
  store: Store,
  run: RunDoc,
  opts: { autoUrba: boolean; dryRun: boolean; threshold: number; completeness: RunCompleteness; now?: Date },
): Promise<UrbaOutcome> {
  const now = opts.now ?? new Date();
  let candidates = 0;
  const sample: string[] = [];
  if (opts.autoUrba && isComplete(opts.completeness)) {
    await forEachCandidateFilter(store, run, async (filter) => {
      candidates += await store.col.findings.countDocuments(filter);
      if (sample.length < 50) {
        const ids = await store.col.findings.find(filter, { batchSize: ONE_BATCH, projection: { _id: 1 } }).limit(50 - sample.length).toArray();
        sample.push(...ids.map((d) => d._id));
      }
    });
  }
  // the threshold's base, counted only when there is something to weigh it against
  const openBefore = candidates > 0 ? await store.col.findings.countDocuments({ network: run.network, status: 'Open' }) : 0;
  const decision = decideUrba({ autoUrba: opts.autoUrba, dryRun: opts.dryRun, completeness: opts.completeness, candidates, openBefore, threshold: opts.threshold });
  if (decision.decision === 'apply' && candidates > 0) {
    const entry: StatusChange = { at: now, runId: run._id, from: 'Open', to: 'Closed', reason: 'urba' };
    await forEachCandidateFilter(store, run, async (filter) => {
      await store.col.findings.updateMany(filter, {
        $set: { status: 'Closed', closedAt: now, closedReason: 'urba', statusRunId: run._id, statusReason: 'urba' },
        $push: { history: entry },
      });
    });
  }
  // counted from the documents (a finalize run again after a crash counts what the first one closed)
  const closed = opts.autoUrba ? await store.col.findings.countDocuments({ statusRunId: run._id, statusReason: 'urba' }) : 0;
  const urba: RunUrba = {
    decision: decision.decision === 'apply' ? 'applied' : decision.decision,
    reason: decision.reason,
    candidates,
    closed,
    openBefore,
    threshold: opts.threshold,
    sample: decision.decision === 'apply' ? [] : sample,
  };
  return { decision, urba };
}

/**
 * The run's counts, derived from the documents: a finalize run twice counts the same.
 *
 * The read of the findings (one grouped read, which on FerretDB reads the whole collection) is left out
 * when its figures are known without it: the batches' done marks give the created count exactly (see
 * BatchStats.created), no batch parked a status change (so none closed as passed or reopened), and the
 * URBA closes were counted from the documents by the caller (`urbaClosed`).
 */
export async function deriveCounts(store: Store, run: RunDoc, known: { urbaClosed?: number } = {}): Promise<Partial<RunDoc['counts']> & { stats: BatchStats }> {
  const stats = await batchStats(store, run._id);
  // one grouped read per collection (FerretDB reads the whole collection for each count)
  let hostsCreated = 0;
  let hostsSeen = 0;
  for (const g of await groupCounts(store.col.hosts, { network: run.network, $or: [{ firstSeenRunId: run._id }, { lastRunId: run._id }] }, { f: '$firstSeenRunId', l: '$lastRunId' })) {
    if (g._id.f === run._id) hostsCreated += g.n;
    if (g._id.l === run._id) hostsSeen += g.n;
  }
  let findingsCreated = 0;
  let closed = 0;
  let reopened = 0;
  let urbaClosed = 0;
  const readFindings = stats.created === null || stats.parked !== 0 || known.urbaClosed === undefined;
  if (!readFindings) {
    findingsCreated = stats.created ?? 0;
    urbaClosed = known.urbaClosed ?? 0;
  }
  for (const g of readFindings ? await groupCounts(store.col.findings, { $or: [{ firstSeenRunId: run._id }, { statusRunId: run._id }] }, { f: '$firstSeenRunId', s: '$statusRunId', r: '$statusReason' }) : []) {
    if (g._id.f === run._id) findingsCreated += g.n;
    if (g._id.s !== run._id) continue;
    if (g._id.r === 'passed') closed += g.n;
    else if (g._id.r === 'reopened') reopened += g.n;
    else if (g._id.r === 'urba') urbaClosed += g.n;
  }
  const summary = run.parse?.summary ?? {};
  return {
    stats,
    hostsParsed: summary.hosts ?? 0,
    findingsParsed: summary.findings ?? 0,
    recordsRejected: summary.rejected ?? 0,
    hostsCreated,
    hostsUpdated: Math.max(0, hostsSeen - hostsCreated),
    findingsCreated,
    findingsUpdated: Math.max(0, stats.findingsWritten - findingsCreated),
    findingsClosed: closed,
    findingsReopened: reopened,
    urbaClosed,
    batches: run.parse?.batches ?? stats.staged,
    batchesWritten: stats.done,
    batchesFailed: stats.failed,
  };
}

/** Documents matching `match`, counted per distinct `by` (one accumulator: FerretDB 1.24 computes only the first). */
async function groupCounts<T extends Document>(col: Collection<T>, match: Filter<T>, by: Record<string, string>): Promise<{ _id: Record<string, unknown>; n: number }[]> {
  return col.aggregate<{ _id: Record<string, unknown>; n: number }>([{ $match: match }, { $group: { _id: by, n: { $sum: 1 } } }]).toArray();
}
