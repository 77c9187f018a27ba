/**
 * Reviving a failed or partial run for a retried job (Bull Board: a failed fetch, parse, upsert or
 * finalize job retried by hand). A revived run writes and may close and reopen findings, so it must keep
 * the rules a sync keeps:
 * - one sync per connector at a time: the run's sync takes the connector's sync lock again (or still
 *   holds it) and no other run of that sync is in progress; otherwise SYNC_BUSY (retryable: the job's
 *   backoff tries again while the other sync runs);
 * - reports are ingested oldest first: a run whose connector has had a later run write since (a newer
 *   report, or the same one pulled again) is not revived, since its older statuses would undo the newer
 *   ones; RUN_SUPERSEDED (not retryable: sync the connector instead).
 */
import type { Store } from './store.ts';
import { TERMINAL_RUN_STATES, type RunDoc, type RunState } from './documents.ts';
import { StoreError } from './errors.ts';
import { acquireSyncLock, setLockRuns } from './sync-lock.ts';

/** Revive a failed or partial run to `to`: counts the resume, clears the error. Null when the run is not failed or partial (any more). */
export async function reviveRun(store: Store, runId: string, to: RunState, now = new Date()): Promise<RunDoc | null> {
  const run = await store.col.runs.findOne({ _id: runId });
  if (!run || (run.state !== 'failed' && run.state !== 'partial')) return null;
  const later = await store.col.runs.findOne(
    {
      connectorId: run.connectorId,
      _id: { $ne: runId },
      state: { $in: ['succeeded', 'partial'] },
      $or: [{ createdAt: { $gt: run.createdAt } }, { syncId: run.syncId, index: { $gt: run.index } }],
    },
    { projection: { _id: 1, reportId: 1 } },
  );
  if (later) {
    throw new StoreError(
      'RUN_SUPERSEDED',
      `run ${runId} (report ${run.reportId}) is not retried: a later run of its connector (run ${later._id}, report ${later.reportId}) has written since, and this run would undo its statuses; sync the connector instead`,
      false,
    );
  }
  const lock = await acquireSyncLock(store, run.connectorId, run.syncId, now);
  const busy = lock.acquired
    ? await store.col.runs.findOne({ syncId: run.syncId, _id: { $ne: runId }, state: { $nin: [...TERMINAL_RUN_STATES, 'queued'] } }, { projection: { _id: 1 } })
    : null;
  if (!lock.acquired || busy) {
    throw new StoreError(
      'SYNC_BUSY',
      `run ${runId} is not retried yet: connector ${run.connectorId} is syncing (${lock.acquired ? `run ${busy?._id} of the same sync` : `sync ${lock.holder.syncId}`}); the job tries again with backoff, or retry it once that sync has ended`,
      true,
    );
  }
  const revived = await store.col.runs.findOneAndUpdate(
    { _id: runId, state: { $in: ['failed', 'partial'] } },
    { $set: { state: to, updatedAt: now, endedAt: null, error: null }, $inc: { resumes: 1 } },
    { returnDocument: 'after' },
  );
  // the lock names the run once it is in progress again (a lock naming only ended runs is stale; an empty
  // new one is not), also when another job revived it first
  const held = await store.col.syncLocks.findOne({ _id: run.connectorId, syncId: run.syncId });
  if (held && !held.runIds.includes(runId)) await setLockRuns(store, run.connectorId, run.syncId, [...held.runIds, runId]);
  return revived;
}
