/**
 * One sync per connector at a time. The lock is a document keyed by the connector id (the unique _id
 * is the mutual exclusion); it names the sync holding it and that sync's runs. A second sync request
 * meeting it joins the running sync (the running one will pull the same reports). A lock whose runs
 * are all finished is stale (its holder died between two steps) and is taken over.
 */
import { ONE_BATCH } from '../db/one-batch.ts';
import type { Store } from '../db/store.ts';
import { TERMINAL_RUN_STATES, type SyncLockDoc } from '../db/documents.ts';

export type LockResult = { acquired: true; lock: SyncLockDoc } | { acquired: false; holder: SyncLockDoc };

const EMPTY_LOCK_STALE_MS = 10 * 60_000;

export async function acquireSyncLock(store: Store, connectorId: string, syncId: string, now = new Date()): Promise<LockResult> {
  for (let i = 0; i < 3; i++) {
    const held = await store.col.syncLocks.findOne({ _id: connectorId });
    if (held) {
      if (held.syncId === syncId) return { acquired: true, lock: held };
      if (!(await isStale(store, held, now))) return { acquired: false, holder: held };
      await store.col.syncLocks.deleteOne({ _id: connectorId, syncId: held.syncId });
      continue;
    }
    const lock: SyncLockDoc = { _id: connectorId, syncId, runIds: [], at: now };
    try {
      await store.col.syncLocks.insertOne(lock);
      return { acquired: true, lock };
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
  }
  const holder = await store.col.syncLocks.findOne({ _id: connectorId });
  if (holder) return { acquired: false, holder };
  throw new Error('sync lock: could not acquire or read the lock');
}

async function isStale(store: Store, lock: SyncLockDoc, now: Date): Promise<boolean> {
  if (lock.runIds.length === 0) return now.getTime() - lock.at.getTime() > EMPTY_LOCK_STALE_MS;
  const runs = await store.col.runs.find({ _id: { $in: lock.runIds } }, { batchSize: ONE_BATCH, projection: { state: 1 } }).toArray();
  return runs.length === lock.runIds.length && runs.every((r) => TERMINAL_RUN_STATES.includes(r.state));
}

export async function setLockRuns(store: Store, connectorId: string, syncId: string, runIds: string[]): Promise<void> {
  await store.col.syncLocks.updateOne({ _id: connectorId, syncId }, { $set: { runIds } });
}

export async function releaseSyncLock(store: Store, connectorId: string, syncId: string): Promise<void> {
  await store.col.syncLocks.deleteOne({ _id: connectorId, syncId });
}

/** The sync running for a connector, if any (what an on-demand request joins). */
export async function activeSync(store: Store, connectorId: string): Promise<SyncLockDoc | null> {
  const lock = await store.col.syncLocks.findOne({ _id: connectorId });
  if (!lock) return null;
  return (await isStale(store, lock, new Date())) ? null : lock;
}
