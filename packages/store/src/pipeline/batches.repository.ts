/** Staged write batches (see batch-doc.ts for why batches are staged in MongoDB). */
import type { FindingRecord, HostRecord } from '@qpc/pc-report';
import type { Store } from '../db/store.ts';
import type { BatchDoc, BatchRecords } from './batch-doc.ts';
import { decodeBatchRecords, encodeBatchRecords } from './batch-records.ts';
import { StoreError } from '../db/errors.ts';
import { ONE_BATCH } from '../db/one-batch.ts';
import { DUPLICATE_KEY } from '../inventory/insert-new.ts';

export function batchId(runId: string, seq: number): string {
  return `${runId}:${seq}`;
}

/**
 * Stage a batch unless it is staged already: a re-run parse (after a crash) produces the same batches
 * with the same seq, and must not reset a batch that was written meanwhile.
 */
export async function stageBatch(store: Store, runId: string, seq: number, hosts: HostRecord[], findings: FindingRecord[], now = new Date()): Promise<void> {
  const _id = batchId(runId, seq);
  try {
    // an insert, not an upsert: an upsert looks for the document first, and on FerretDB every look reads
    // all staged batches
    const records = encodeBatchRecords({ hosts, findings });
    await store.col.batches.insertOne({ _id, runId, seq, records, size: { hosts: hosts.length, findings: findings.length }, createdAt: now, done: null, failed: null });
  } catch (err) {
    if ((err as { code?: number }).code !== DUPLICATE_KEY) throw err;
  }
}

/** A staged batch with its records decoded (none once it is written). */
export async function getBatch(store: Store, runId: string, seq: number): Promise<BatchDoc & BatchRecords> {
  const b = await store.col.batches.findOne({ _id: batchId(runId, seq) });
  if (!b) throw new StoreError('BATCH_NOT_FOUND', `batch ${seq} of run ${runId} is not staged`, false);
  // a batch staged before records were one blob (a run in progress across an upgrade) holds them as arrays
  const legacy = b as Partial<BatchRecords>;
  const records = b.records ? decodeBatchRecords(b.records, `batch ${seq} of run ${runId}`) : { hosts: legacy.hosts ?? [], findings: legacy.findings ?? [] };
  return { ...b, ...records };
}

/**
 * A written batch keeps its counts and drops its records: a done batch is never written again, and the
 * run's batches stay until it ends, so a large report would otherwise keep all of itself in MongoDB (and
 * FerretDB reads every staged document whenever it looks for one).
 */
export async function markBatchDone(store: Store, runId: string, seq: number, counts: Omit<NonNullable<BatchDoc['done']>, 'at'>, now = new Date()): Promise<void> {
  await store.col.batches.updateOne({ _id: batchId(runId, seq), done: null }, { $set: { done: { at: now, ...counts }, failed: null, records: null } });
}

export async function markBatchFailed(store: Store, runId: string, seq: number, message: string, now = new Date()): Promise<void> {
  await store.col.batches.updateOne({ _id: batchId(runId, seq), done: null }, { $set: { failed: { at: now, message: message.slice(0, 500) } } });
}

/** A failed batch retried (Bull Board): clear its failure so it counts as pending again. */
export async function clearBatchFailure(store: Store, runId: string, seq: number): Promise<void> {
  await store.col.batches.updateOne({ _id: batchId(runId, seq), done: null }, { $set: { failed: null } });
}

export interface BatchStats {
  staged: number;
  done: number;
  failed: number;
  pending: number;
  hostsWritten: number;
  findingsWritten: number;
  /** status changes the written batches parked for finalize; null when a batch did not say */
  parked: number | null;
  /**
   * findings the run created, summed from the batches' done marks; null unless that sum is exact: every
   * batch written, and no batch's recorded write met findings of this run created by another write
   * (a batch written again after a crash, two writers of one batch, or a finding twice in the report)
   */
  created: number | null;
  /** summed from the done marks: existing findings unchanged / changed, finding documents inserted, hosts rewritten */
  unchanged: number;
  changed: number;
  docsWritten: number;
  /** null when a done mark of an earlier version does not say */
  hostsChanged: number | null;
}

export async function batchStats(store: Store, runId: string): Promise<BatchStats> {
  const s: BatchStats = { staged: 0, done: 0, failed: 0, pending: 0, hostsWritten: 0, findingsWritten: 0, parked: 0, created: 0, unchanged: 0, changed: 0, docsWritten: 0, hostsChanged: 0 };
  // drained at once: no cursor stays open (see readReportFile)
  const all = await store.col.batches
    .find({ runId }, { batchSize: ONE_BATCH, projection: { 'done.seen': 0, 'done.changes': 0, 'done.assessed': 0, records: 0 } })
    .toArray();
  for (const b of all) {
    s.staged++;
    if (b.done) {
      s.done++;
      s.hostsWritten += b.done.hosts;
      s.findingsWritten += b.done.findings;
      s.parked = s.parked === null || b.done.pending === undefined ? null : s.parked + b.done.pending;
      s.created = s.created === null || b.done.created === undefined || b.done.createdBefore !== 0 ? null : s.created + b.done.created;
      s.unchanged += b.done.unchanged ?? 0;
      s.changed += b.done.changed ?? 0;
      s.docsWritten += b.done.docsWritten ?? 0;
      s.hostsChanged = s.hostsChanged === null || b.done.hostsChanged === undefined ? null : s.hostsChanged + b.done.hostsChanged;
    } else if (b.failed) s.failed++;
    else s.pending++;
  }
  if (s.failed > 0 || s.pending > 0) s.created = null;
  return s;
}

/** Batches staged and not yet written or failed: what the parser's backpressure counts. */
/**
 * The seqs of a run's batches staged so far. A parse re-run after a crash stages the same batches with the
 * same seqs: those already staged skip the backpressure wait (they are counted in it already; the last
 * one may have no upsert job yet, if the crash came between staging it and enqueueing its job, and waiting
 * for it to be written would wait for ever).
 */
export async function stagedSeqs(store: Store, runId: string): Promise<Set<number>> {
  const docs = await store.col.batches.find({ runId }, { projection: { seq: 1 } }).toArray();
  return new Set(docs.map((d) => d.seq));
}

export async function pendingBatches(store: Store, runId: string): Promise<number> {
  return store.col.batches.countDocuments({ runId, done: null, failed: null });
}

/** The batches of the connector's other succeeded runs go: only the last complete run's seen keys stay. */
export async function keepSeenOfLastCompleteRun(store: Store, connectorId: string, runId: string): Promise<void> {
  const older = await store.col.runs.find({ connectorId, state: 'succeeded', _id: { $ne: runId } }, { batchSize: ONE_BATCH, projection: { _id: 1 } }).toArray();
  if (older.length) await store.col.batches.deleteMany({ runId: { $in: older.map((r) => r._id) } });
}

export async function deleteBatches(store: Store, runId: string): Promise<void> {
  await store.col.batches.deleteMany({ runId });
}

/**
 * ferretdb mode: the existing assessments the run's batches met, stamped with the run at once (write-batch.ts
 * says why not per batch). One multi update per 5,000 _ids; run again, it stamps the same.
 */
export async function stampAssessments(store: Store, runId: string, network: string, now: Date): Promise<number> {
  const marks = await store.col.batches.find({ runId, done: { $ne: null } }, { batchSize: ONE_BATCH, projection: { 'done.assessed': 1 } }).toArray();
  const ids = new Set<string>();
  for (const b of marks) {
    const packed = b.done?.assessed?.buffer;
    if (!packed) continue;
    for (let o = 0; o + 12 <= packed.length; o += 12) ids.add(Buffer.from(packed.subarray(o, o + 12)).toString('hex'));
  }
  const all = [...ids];
  let stamped = 0;
  for (let i = 0; i < all.length; i += 5000) stamped += (await store.col.assessments.updateMany({ network, _id: { $in: all.slice(i, i + 5000) } }, { $set: { runId, at: now } })).matchedCount;
  return stamped;
}
