/**
 * ferretdb mode: changed findings are replaced as whole documents, deleteMany({_id: {$in}}) + insertMany
 * per chunk of up to 1,000 (README, Recurring syncs: each is one read of the collection on FerretDB 1.24,
 * where updateMany of the same ids writes the matched documents one by one, over 90 s for 500 at
 * 50,000 findings). The new documents are journaled first (one insert into `rewrites`), so a process
 * killed between the delete and the insert loses nothing: finalize replays a run's journal before
 * anything else, and a replay gives the same documents.
 */
import { randomUUID } from 'node:crypto';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { Binary, BSON } from 'mongodb';
import type { Store } from '../db/store.ts';
import type { FindingDoc } from '../db/documents.ts';
import { insertNew } from './insert-new.ts';
import { ONE_BATCH } from '../db/one-batch.ts';

/** Replace the documents with the same _id by `docs`; returns how many were written. */
export async function rewriteDocs(store: Store, runId: string, docs: FindingDoc[], now = new Date()): Promise<number> {
  if (docs.length === 0) return 0;
  const _id = `${runId}:${randomUUID()}`;
  await store.col.rewrites.insertOne({ _id, runId, docs: new Binary(deflateRawSync(BSON.serialize({ docs }), { level: constants.Z_BEST_SPEED })), at: now });
  await applyJournal(store, docs);
  await store.col.rewrites.deleteOne({ _id });
  return docs.length;
}

/** A run's journaled rewrites that a killed process left: applied again (same result), then removed. */
export async function replayRewrites(store: Store, runId: string): Promise<number> {
  const left = await store.col.rewrites.find({ runId }, { batchSize: ONE_BATCH, projection: { _id: 1 } }).toArray();
  for (const { _id } of left) {
    const j = await store.col.rewrites.findOne({ _id });
    if (!j) continue;
    await applyJournal(store, BSON.deserialize(inflateRawSync(j.docs.buffer)).docs as FindingDoc[]);
    await store.col.rewrites.deleteOne({ _id });
  }
  return left.length;
}

async function applyJournal(store: Store, docs: FindingDoc[]): Promise<void> {
  // the old documents go by slot (db-mode.ts: a filter FerretDB hands to PostgreSQL), those of another
  // _id shape by _id alone
  const bySlot = new Map<string, FindingDoc[]>();
  const plain: string[] = [];
  for (const d of docs) {
    if (d.slot === undefined) {
      plain.push(d._id);
      continue;
    }
    const k = `${d.slot}|${d.network}`;
    bySlot.set(k, [...(bySlot.get(k) ?? []), d]);
  }
  for (const group of bySlot.values()) {
    const { network, slot } = group[0]!;
    await store.col.findings.deleteMany({ network, slot, _id: { $in: group.map((d) => d._id) } });
  }
  if (plain.length > 0) await store.col.findings.deleteMany({ _id: { $in: plain } });
  // an insert refused as a duplicate is a document of this journal already back (a replay), or an old
  // document written before findings had a slot (the slot filter missed it): that one goes by _id
  const dup = await insertNew(store.col.findings, docs);
  const stale = dup.map((i) => docs[i]!).filter((d) => d.slot !== undefined && !plain.includes(d._id));
  if (stale.length === 0) return;
  const old = await store.col.findings.find({ _id: { $in: stale.map((d) => d._id) }, slot: { $exists: false } }, { batchSize: ONE_BATCH, projection: { _id: 1 } }).toArray();
  if (old.length === 0) return;
  const ids = new Set(old.map((d) => d._id));
  await store.col.findings.deleteMany({ _id: { $in: [...ids] }, slot: { $exists: false } });
  await insertNew(store.col.findings, stale.filter((d) => ids.has(d._id)));
}
