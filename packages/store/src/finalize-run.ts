/**
 * The end of a run: apply the parked status changes (closed as passed, reopened) if the run is
 * complete, then Auto URBA with every guard rail, then derive the run's counts from the documents.
 * Every step is idempotent (compare-and-set on the finding's status or pending mark), so a finalize
 * killed half-way and run again ends in the same state.
 */
import { decideUrba, FINDING_STATUSES, isComplete, statusFromTestStatus, TEST_STATUSES, type RunCompleteness, type UrbaDecision } from '@qpc/domain';
import type { Filter } from 'mongodb';
import type { Store } from './store.ts';
import type { FindingDoc, RunDoc, RunUrba, StatusChange } from './documents.ts';
import { batchStats, type BatchStats } from './batches.repository.ts';
import { ONE_BATCH } from './one-batch.ts';

const PAGE = 1000;

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
 * that this run did not see. Visited in pages of assessments (memory bounded by the page).
 */
async function forEachCandidateFilter(store: Store, run: RunDoc, fn: (filter: Filter<FindingDoc>) => Promise<void>): Promise<void> {
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
    for (const [policyId, hostKeys] of byPolicy) {
      await fn({ network: run.network, status: 'Open', policyId, hostKey: { $in: hostKeys }, lastSeenRunId: { $ne: run._id } });
    }
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
  const openBefore = await store.col.findings.countDocuments({ network: run.network, status: 'Open' });
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
  const closed = await store.col.findings.countDocuments({ statusRunId: run._id, statusReason: 'urba' });
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

/** The run's counts, derived from the documents: a finalize run twice counts the same. */
export async function deriveCounts(store: Store, run: RunDoc): Promise<Partial<RunDoc['counts']> & { stats: BatchStats }> {
  const stats = await batchStats(store, run._id);
  const [hostsCreated, hostsSeen, findingsCreated, closed, reopened, urbaClosed] = await Promise.all([
    store.col.hosts.countDocuments({ network: run.network, firstSeenRunId: run._id }),
    store.col.hosts.countDocuments({ network: run.network, lastRunId: run._id }),
    store.col.findings.countDocuments({ firstSeenRunId: run._id }),
    store.col.findings.countDocuments({ statusRunId: run._id, statusReason: 'passed' }),
    store.col.findings.countDocuments({ statusRunId: run._id, statusReason: 'reopened' }),
    store.col.findings.countDocuments({ statusRunId: run._id, statusReason: 'urba' }),
  ]);
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
