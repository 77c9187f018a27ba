/**
 * Finalize's half of a re-sync: the changed findings the run's batches staged (staged-changes.ts) are
 * applied in chunks, content always, status changes (closed as passed, reopened) only if the run is
 * complete. Each change is decided against the document as it is when applied (compare-and-set), so a
 * finalize killed half-way and run again changes nothing twice: a status change whose document already
 * has the new status, or a content change whose document already has the new hash, is skipped.
 *
 * mongodb mode: keyed updates in bulks of store.bulkSize. ferretdb mode: the documents read with the
 * URBA candidates in one streaming read, rewritten whole (applyBySlot, rewrite-docs.ts).
 */
import { isComplete, nextStatus } from '@qpc/domain';
import type { AnyBulkWriteOperation } from 'mongodb';
import type { Store } from '../db/store.ts';
import type { FindingDoc, RunDoc, RunUrba, StatusChange } from '../db/documents.ts';
import { decodeChanges, type StagedChange } from './staged-changes.ts';
import { keyedUpdate } from './keyed-update.ts';
import { rewriteDocs } from './rewrite-docs.ts';
import { ONE_BATCH } from '../db/one-batch.ts';
import { FINDING_SLOTS, REWRITE_CHUNK, slotOf } from '../db/db-mode.ts';
import { applyUrba, decideRunUrba, urbaRecord, urbaRule, type UrbaOptions } from './finalize-run.ts';

/** ferretdb mode: changed documents held at once (~3 KB each in the heap) before the rewrite goes slot by slot */
const MAX_HELD_CHANGES = 20_000;

/** done batches whose blobs are read at once (memory: their changes, decoded) */
const BATCHES_PER_READ = 20;

export interface AppliedChanges {
  /** finding documents rewritten */
  docsWritten: number;
  /** changes left unapplied because the run is incomplete (status changes) */
  held: number;
}

/** mongodb mode: the staged changes applied as keyed updates, chunk by chunk. */
export async function applyStagedChanges(store: Store, runId: string, opts: { complete: boolean; now: Date }): Promise<AppliedChanges> {
  const out: AppliedChanges = { docsWritten: 0, held: 0 };
  let chunk: StagedChange[] = [];
  const flush = async () => {
    const toWrite = opts.complete ? chunk : chunk.filter((c) => nextStatus(c.s, c.f.testStatus).change === null);
    out.held += chunk.length - toWrite.length;
    chunk = [];
    out.docsWritten += await updateChunk(store, runId, toWrite, opts);
  };
  for await (const changes of stagedChanges(store, runId)) {
    chunk.push(...changes);
    if (chunk.length >= REWRITE_CHUNK) await flush();
  }
  if (chunk.length > 0) await flush();
  return out;
}

/** The changes each written batch of the run staged, batch by batch. */
async function* stagedChanges(store: Store, runId: string): AsyncGenerator<StagedChange[]> {
  const ids = (await store.col.batches.find({ runId, done: { $ne: null } }, { batchSize: ONE_BATCH, projection: { _id: 1, 'done.changed': 1 } }).toArray())
    .filter((b) => b.done?.changed !== 0)
    .map((b) => b._id);
  for (let i = 0; i < ids.length; i += BATCHES_PER_READ) {
    const group = await store.col.batches.find({ _id: { $in: ids.slice(i, i + BATCHES_PER_READ) } }, { batchSize: ONE_BATCH, projection: { _id: 1, 'done.changes': 1 } }).toArray();
    for (const b of group) yield decodeChanges(b.done?.changes, `batch ${b._id}`);
  }
}

export interface SlotFinalize extends AppliedChanges {
  urba: RunUrba;
  /** finding documents URBA wrote */
  urbaWritten: number;
}

/**
 * ferretdb mode: the staged changes and the URBA closes applied together, as whole-document rewrites.
 * FerretDB 1.24 decodes every document of the network for a filter it cannot hand to its backend (`$in`),
 * so the documents of both come from ONE streaming read of the network, and the rewrite (rewrite-docs.ts)
 * deletes them slot by slot: two passes over the network in all, where reading the changed documents,
 * deleting them, reading the Open ones for URBA and updating the closed ones were four. The staged changes
 * are held in memory (5% of 1M findings: ~100 MB), and their new documents up to `maxHeld` (default
 * MAX_HELD_CHANGES); above that the read and the rewrite go slot by slot. A run with nothing staged takes the URBA
 * path of both modes (applyUrba: a read of the Open findings with a small projection).
 */
export async function applyBySlot(store: Store, run: RunDoc, opts: { complete: boolean; now: Date; urba: UrbaOptions; maxHeld?: number }): Promise<SlotFinalize> {
  const { now, complete } = opts;
  const byId = new Map<string, StagedChange>();
  let heldBack = 0;
  for await (const changes of stagedChanges(store, run._id)) {
    for (const c of changes) {
      if (!complete && nextStatus(c.s, c.f.testStatus).change !== null) heldBack++;
      else byId.set(c.i, c);
    }
  }
  if (byId.size === 0) {
    const { urba, docsWritten } = await applyUrba(store, run, opts.urba);
    return { docsWritten: 0, held: heldBack, urba, urbaWritten: docsWritten };
  }
  const isCandidate = opts.urba.autoUrba && isComplete(opts.urba.completeness) ? await urbaRule(store, run) : null;
  // the URBA decision needs every candidate counted before any is closed: one pass first when the
  // changes are many (below)
  const candidates: FindingDoc[] = [];
  let openBefore = 0;
  let changedWritten = 0;
  const rewrite = async (docs: FindingDoc[]) => {
    // in slot order, so a chunk's deletes name one or two slots
    docs.sort((a, b) => (a.slot ?? -1) - (b.slot ?? -1));
    for (let i = 0; i < docs.length; i += REWRITE_CHUNK) await rewriteDocs(store, run._id, docs.slice(i, i + REWRITE_CHUNK), now);
  };
  // one read of the network; with more changes than MAX_HELD_CHANGES, one per slot (and one for
  // documents without a slot) so that only a slot's new documents are held at once
  const filters = byId.size <= (opts.maxHeld ?? MAX_HELD_CHANGES) ? [{ network: run.network }] : [...Array.from({ length: FINDING_SLOTS }, (_, slot) => ({ network: run.network, slot })), { network: run.network, slot: { $exists: false } }];
  const held: FindingDoc[] = [];
  for (const filter of filters) {
    const next: FindingDoc[] = [];
    for await (const d of store.col.findings.find(filter, { batchSize: 10_000 })) {
      const c = byId.get(d._id);
      if (c) {
        const n = changedDoc(d, c, run._id, now, complete);
        if (n) next.push(n);
      } else if (isCandidate && d.status === 'Open' && isCandidate(d)) candidates.push(d);
      if (isCandidate && d.status === 'Open') openBefore++;
    }
    changedWritten += next.length;
    if (filters.length === 1) held.push(...next);
    else await rewrite(next);
  }
  const decision = decideRunUrba(opts.urba, candidates.length, openBefore);
  if (decision.decision === 'apply') held.push(...candidates.map((d) => closedByUrba(d, run._id, now)));
  await rewrite(held);
  const urba = await urbaRecord(
    store,
    run,
    opts.urba,
    decision,
    candidates.map((d) => d._id),
    openBefore,
  );
  return { docsWritten: changedWritten, held: heldBack, urba, urbaWritten: decision.decision === 'apply' ? candidates.length : 0 };
}

/** `doc` closed as URBA by run `runId` (the same fields as the multi update of the mongodb mode). */
function closedByUrba(doc: FindingDoc, runId: string, now: Date): FindingDoc {
  const slot = slotOf(doc._id);
  const entry: StatusChange = { at: now, runId, from: 'Open', to: 'Closed', reason: 'urba' };
  return { ...doc, ...(slot === null ? {} : { slot }), status: 'Closed', closedAt: now, closedReason: 'urba', statusRunId: runId, statusReason: 'urba', history: [...doc.history, entry] };
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
