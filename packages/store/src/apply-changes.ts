/**
 * Finalize's half of a re-sync: the changed findings the run's batches staged (staged-changes.ts) are
 * applied in chunks, content always, status changes (closed as passed, reopened) only if the run is
 * complete. Each change is decided against the document as it is when applied (compare-and-set), so a
 * finalize killed half-way and run again changes nothing twice: a status change whose document already
 * has the new status, or a content change whose document already has the new hash, is skipped.
 *
 * mongodb mode: keyed updates in bulks of store.bulkSize. ferretdb mode: the chunk's documents read with
 * one find by _id, rewritten whole (rewrite-docs.ts).
 */
import { nextStatus } from '@qpc/domain';
import type { AnyBulkWriteOperation } from 'mongodb';
import type { Store } from './store.ts';
import type { FindingDoc, StatusChange } from './documents.ts';
import { decodeChanges, type StagedChange } from './staged-changes.ts';
import { keyedUpdate } from './keyed-update.ts';
import { rewriteDocs } from './rewrite-docs.ts';
import { ONE_BATCH } from './one-batch.ts';
import { REWRITE_CHUNK, slotOf } from './db-mode.ts';

/** done batches whose blobs are read at once (memory: their changes, decoded) */
const BATCHES_PER_READ = 20;

export interface AppliedChanges {
  /** finding documents rewritten */
  docsWritten: number;
  /** changes left unapplied because the run is incomplete (status changes) */
  held: number;
}

export async function applyStagedChanges(store: Store, runId: string, opts: { complete: boolean; now: Date }): Promise<AppliedChanges> {
  const out: AppliedChanges = { docsWritten: 0, held: 0 };
  const ids = (await store.col.batches.find({ runId, done: { $ne: null } }, { batchSize: ONE_BATCH, projection: { _id: 1, 'done.changed': 1 } }).toArray())
    .filter((b) => b.done?.changed !== 0)
    .map((b) => b._id);
  // ferretdb mode: the changes gathered per slot first (db-mode.ts), so each slot costs one read and one
  // rewrite whatever the number of batches (the changes of a 1M-finding re-sync with 5% changed: ~100 MB)
  const bySlot = new Map<number | null, StagedChange[]>();
  let chunk: StagedChange[] = [];
  const flush = async () => {
    const toWrite = opts.complete ? chunk : chunk.filter((c) => nextStatus(c.s, c.f.testStatus).change === null);
    out.held += chunk.length - toWrite.length;
    chunk = [];
    if (store.mode === 'mongodb') out.docsWritten += await updateChunk(store, runId, toWrite, opts);
    else for (const c of toWrite) bySlot.set(slotOf(c.i), [...(bySlot.get(slotOf(c.i)) ?? []), c]);
  };
  for (let i = 0; i < ids.length; i += BATCHES_PER_READ) {
    const group = await store.col.batches.find({ _id: { $in: ids.slice(i, i + BATCHES_PER_READ) } }, { batchSize: ONE_BATCH, projection: { _id: 1, 'done.changes': 1 } }).toArray();
    for (const b of group) {
      chunk.push(...decodeChanges(b.done?.changes, `batch ${b._id}`));
      if (chunk.length >= REWRITE_CHUNK) await flush();
    }
  }
  if (chunk.length > 0) await flush();
  const network = bySlot.size > 0 ? (await store.col.runs.findOne({ _id: runId }, { projection: { network: 1 } }))?.network : undefined;
  for (const [slot, changes] of bySlot) {
    for (let i = 0; i < changes.length; i += REWRITE_CHUNK) out.docsWritten += await rewriteChunk(store, runId, network, slot, changes.slice(i, i + REWRITE_CHUNK), opts);
  }
  return out;
}

/** The new version of `doc` under change `c`, or null when the document says so already. */
export function changedDoc(doc: FindingDoc, c: StagedChange, runId: string, now: Date, complete: boolean): FindingDoc | null {
  const { status, change } = nextStatus(doc.status, c.f.testStatus);
  if (change !== null && !complete) return null;
  if (change === null && doc.contentHash === c.c) return null;
  const slot = slotOf(doc._id);
  const next: FindingDoc = { ...doc, ...c.f, ...(slot === null ? {} : { slot }), contentHash: c.c, lastSeen: now, lastSeenRunId: runId, pending: null };
  if (change === null) return next;
  const reason: StatusChange['reason'] = status === 'Closed' ? 'passed' : 'reopened';
  return {
    ...next,
    status,
    statusRunId: runId,
    statusReason: reason,
    closedAt: status === 'Closed' ? now : null,
    closedReason: status === 'Closed' ? 'passed' : null,
    reopenCount: doc.reopenCount + (reason === 'reopened' ? 1 : 0),
    history: [...doc.history, { at: now, runId, from: doc.status, to: status, reason }],
  };
}

/** Changes of one slot (null: _ids of another shape): their documents read, rewritten whole. */
async function rewriteChunk(
  store: Store,
  runId: string,
  network: string | undefined,
  slot: number | null,
  changes: StagedChange[],
  opts: { complete: boolean; now: Date },
): Promise<number> {
  if (changes.length === 0) return 0;
  const byId = new Map(changes.map((c) => [c.i, c]));
  const docs = slot === null || network === undefined ? [] : await store.col.findings.find({ network, slot, _id: { $in: [...byId.keys()] } }, { batchSize: ONE_BATCH }).toArray();
  // documents written before findings had a slot: read by _id
  const found = new Set(docs.map((d) => d._id));
  const rest = [...byId.keys()].filter((id) => !found.has(id));
  if (rest.length > 0) docs.push(...(await store.col.findings.find({ _id: { $in: rest } }, { batchSize: ONE_BATCH }).toArray()));
  const next = docs.map((d) => changedDoc(d, byId.get(d._id)!, runId, opts.now, opts.complete)).filter((d): d is FindingDoc => d !== null);
  return rewriteDocs(store, runId, next, opts.now);
}

async function updateChunk(store: Store, runId: string, changes: StagedChange[], opts: { complete: boolean; now: Date }): Promise<number> {
  const { now } = opts;
  const ops: AnyBulkWriteOperation<FindingDoc>[] = [];
  for (const c of changes) {
    const content = { ...c.f, contentHash: c.c, lastSeen: now, lastSeenRunId: runId, pending: null };
    const { status, change } = nextStatus(c.s, c.f.testStatus);
    if (change !== null) {
      // compare-and-set on the status the change starts from (two statuses: the other one)
      const from = status === 'Closed' ? 'Open' : 'Closed';
      const reason: StatusChange['reason'] = status === 'Closed' ? 'passed' : 'reopened';
      const entry: StatusChange = { at: now, runId, from, to: status, reason };
      ops.push(
        keyedUpdate<FindingDoc>(
          { _id: c.i, status: from },
          {
            $set: { ...content, status, statusRunId: runId, statusReason: reason, closedAt: status === 'Closed' ? now : null, closedReason: status === 'Closed' ? 'passed' : null },
            $inc: { reopenCount: reason === 'reopened' ? 1 : 0 },
            $push: { history: entry },
          },
        ),
      );
    }
    // the content alone (a document already in the new status), skipped where the hash says it is there
    ops.push(keyedUpdate<FindingDoc>({ _id: c.i, contentHash: { $ne: c.c } }, { $set: content }));
  }
  let written = 0;
  for (let i = 0; i < ops.length; i += store.bulkSize) {
    const r = await store.col.findings.bulkWrite(ops.slice(i, i + store.bulkSize), { ordered: false });
    written += r.modifiedCount;
  }
  return written;
}
