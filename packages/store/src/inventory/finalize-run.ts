/**
 * The end of a run: apply the parked status changes (closed as passed, reopened) if the run is
 * complete, then Auto URBA with every guard rail, then derive the run's counts from the documents.
 * Every step is idempotent (compare-and-set on the finding's status or pending mark), so a finalize
 * killed half-way and run again ends in the same state.
 */
import { decideUrba, FINDING_STATUSES, isComplete, statusFromTestStatus, TEST_STATUSES, type RunCompleteness, type UrbaDecision } from '@qpc/domain';
import type { Collection, Document, Filter } from 'mongodb';
import type { Store } from '../db/store.ts';
import type { FindingDoc, RunDoc, RunUrba, StatusChange } from '../db/documents.ts';
import { batchStats, type BatchStats } from '../pipeline/batches.repository.ts';
import { ONE_BATCH } from '../db/one-batch.ts';
import { hasHash, keyHash, sortedHashes } from './content-hash.ts';
import { REWRITE_CHUNK, slotOf } from '../db/db-mode.ts';

export async function runCompleteness(run: RunDoc, stats: BatchStats): Promise<RunCompleteness> {
  const summary = run.parse?.summary ?? null;
  return {
    readToEnd: run.parse?.complete === true && summary !== null,
    allBatchesWritten: stats.failed === 0 && stats.pending === 0 && stats.done === (run.parse?.batches ?? -1),
    findingsParsed: summary?.findings ?? 0,
    findingsWritten: stats.findingsWritten,
    rejected: summary?.rejected ?? 0,
    hostsParsed: summary?.hosts ?? 0,
    incremental: run.posture?.kind === 'incremental',
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
 * URBA candidates: Open findings of the network, on a host x policy assessed by this run, whose key the
 * run did not see (the batches' seen hashes; a finding the run wrote is seen too). One streaming read of
 * the network's Open findings with a small projection: on FerretDB 1.24 every filtered statement reads
 * the whole collection anyway, and the key list of a large run does not fit a filter. Returns the
 * candidates' _ids and how many findings are Open (the threshold's base).
 */
export async function urbaCandidates(store: Store, run: RunDoc): Promise<{ ids: string[]; openBefore: number; /** candidates written before findings had a slot */ unslotted: Set<string> }> {
  const ids: string[] = [];
  const unslotted = new Set<string>();
  let openBefore = 0;
  const isCandidate = await urbaRule(store, run);
  // nothing assessed, nothing to close (and no base to count)
  if (isCandidate === null) return { ids, openBefore: 0, unslotted };
  const cursor = store.col.findings.find(
    { network: run.network, status: 'Open' },
    { batchSize: 10_000, projection: { _id: 1, findingKey: 1, hostKey: 1, policyId: 1, lastSeenRunId: 1, status: 1, slot: 1 } },
  );
  for await (const f of cursor) {
    openBefore++;
    if (!isCandidate(f)) continue;
    ids.push(f._id);
    if (f.slot === undefined) unslotted.add(f._id);
  }
  return { ids, openBefore, unslotted };
}

/**
 * The URBA candidate rule of a run: an Open finding on a host x policy the run assessed whose key the run
 * did not see. Null when the run assessed nothing (nothing to close, no base to count).
 */
export async function urbaRule(store: Store, run: RunDoc): Promise<((f: Pick<FindingDoc, 'status' | 'hostKey' | 'policyId' | 'lastSeenRunId' | 'findingKey'>) => boolean) | null> {
  const scopes = new Set(
    (await store.col.assessments.find({ runId: run._id, network: run.network }, { batchSize: ONE_BATCH, projection: { _id: 0, hostKey: 1, policyId: 1 } }).toArray()).map(
      (a) => `${a.hostKey}|${a.policyId}`,
    ),
  );
  if (scopes.size === 0) return null;
  const seen = await seenByRun(store, run._id);
  return (f) => f.status === 'Open' && scopes.has(`${f.hostKey}|${f.policyId}`) && f.lastSeenRunId !== run._id && !hasHash(seen, keyHash(f.findingKey));
}

/** The hashes of every finding key the run's written batches saw, sorted (content-hash.ts). */
export async function seenByRun(store: Store, runId: string): Promise<BigUint64Array> {
  const marks = await store.col.batches.find({ runId, done: { $ne: null } }, { batchSize: ONE_BATCH, projection: { 'done.seen': 1 } }).toArray();
  return sortedHashes(marks.flatMap((b) => (b.done?.seen ? [b.done.seen.buffer] : [])));
}

/**
 * Close `ids` as URBA (those still Open: the compare-and-set that makes a retried finalize close nothing
 * twice). One $set for all, so one multi update per chunk of ids: keyed statements in bulks of bulkSize
 * on MongoDB. On FerretDB 1.24 one multi update per slot (db-mode.ts): `{network, slot}` goes down to
 * PostgreSQL and `$in` is checked on that slot's documents only (the update then writes the matched
 * documents one by one, by _id); findings written before they had a slot, in chunks of 1,000 by _id.
 */
async function closeByUrba(store: Store, run: RunDoc, ids: string[], unslotted: Set<string>, now: Date): Promise<number> {
  const runId = run._id;
  const entry: StatusChange = { at: now, runId, from: 'Open', to: 'Closed', reason: 'urba' };
  const update = { $set: { status: 'Closed' as const, closedAt: now, closedReason: 'urba' as const, statusRunId: runId, statusReason: 'urba' as const }, $push: { history: entry } };
  let written = 0;
  if (store.mode === 'mongodb') {
    for (let i = 0; i < ids.length; i += store.bulkSize) written += (await store.col.findings.updateMany({ _id: { $in: ids.slice(i, i + store.bulkSize) }, status: 'Open' }, update)).modifiedCount;
    return written;
  }
  const bySlot = new Map<number, string[]>();
  const plain: string[] = [];
  for (const id of ids) {
    const slot = slotOf(id);
    if (slot === null || unslotted.has(id)) plain.push(id);
    else bySlot.set(slot, [...(bySlot.get(slot) ?? []), id]);
  }
  for (const [slot, list] of bySlot) {
    for (let i = 0; i < list.length; i += REWRITE_CHUNK) {
      written += (await store.col.findings.updateMany({ network: run.network, slot, _id: { $in: list.slice(i, i + REWRITE_CHUNK) }, status: 'Open' }, update)).modifiedCount;
    }
  }
  for (let i = 0; i < plain.length; i += REWRITE_CHUNK) written += (await store.col.findings.updateMany({ _id: { $in: plain.slice(i, i + REWRITE_CHUNK) }, status: 'Open' }, update)).modifiedCount;
  return written;
}

export interface UrbaOutcome {
  decision: UrbaDecision;
  urba: RunUrba;
  /** finding documents URBA wrote */
  docsWritten: number;
}

export interface UrbaOptions {
  autoUrba: boolean;
  dryRun: boolean;
  threshold: number;
  completeness: RunCompleteness;
  now?: Date;
}

export async function applyUrba(store: Store, run: RunDoc, opts: UrbaOptions): Promise<UrbaOutcome> {
  // an incremental posture pull names only what changed: it never closes by absence
  const found = opts.autoUrba && isComplete(opts.completeness) && !opts.completeness.incremental ? await urbaCandidates(store, run) : { ids: [], openBefore: 0, unslotted: new Set<string>() };
  const decision = decideRunUrba(opts, found.ids.length, found.openBefore);
  let docsWritten = 0;
  if (decision.decision === 'apply' && found.ids.length > 0) docsWritten = await closeByUrba(store, run, found.ids, found.unslotted, opts.now ?? new Date());
  return { decision, urba: await urbaRecord(store, run, opts, decision, found.ids, found.openBefore), docsWritten };
}

/** The guard rails' answer for `candidates` of `openBefore` Open findings. */
export function decideRunUrba(opts: UrbaOptions, candidates: number, openBefore: number): UrbaDecision {
  return decideUrba({ autoUrba: opts.autoUrba, dryRun: opts.dryRun, completeness: opts.completeness, candidates, openBefore: candidates === 0 ? 0 : openBefore, threshold: opts.threshold });
}

/** What the run records of URBA, once the closes are written. */
export async function urbaRecord(store: Store, run: RunDoc, opts: UrbaOptions, decision: UrbaDecision, ids: string[], openBefore: number): Promise<RunUrba> {
  // counted from the documents (a finalize run again after a crash counts what the first one closed)
  const closed = opts.autoUrba ? await store.col.findings.countDocuments({ statusRunId: run._id, statusReason: 'urba' }) : 0;
  return {
    decision: decision.decision === 'apply' ? 'applied' : decision.decision,
    reason: decision.reason,
    candidates: ids.length,
    closed,
    openBefore: ids.length === 0 ? 0 : openBefore,
    threshold: opts.threshold,
    sample: decision.decision === 'apply' ? [] : ids.slice(0, 50),
  };
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
  // status changes applied by this finalize are counted from the documents (a retried finalize counts what the first one did)
  const readFindings = stats.created === null || stats.parked !== 0 || stats.changed !== 0 || known.urbaClosed === undefined;
  if (!readFindings) {
    findingsCreated = stats.created ?? 0;
    urbaClosed = known.urbaClosed ?? 0;
  }
  // two reads with one equality each (not one `$or`): FerretDB 1.24 hands a top-level equality to its
  // backend, and decodes the whole collection for an `$or`
  if (readFindings) findingsCreated = await store.col.findings.countDocuments({ firstSeenRunId: run._id });
  for (const g of readFindings ? await groupCounts(store.col.findings, { statusRunId: run._id }, { r: '$statusReason' }) : []) {
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
    // hosts whose fields changed (an unchanged host is not written); marks of earlier versions: the hosts stamped by the run
    hostsUpdated: stats.hostsChanged ?? Math.max(0, hostsSeen - hostsCreated),
    findingsCreated,
    findingsUpdated: Math.max(0, stats.findingsWritten - findingsCreated),
    findingsUnchanged: stats.unchanged,
    findingsChanged: stats.changed,
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
