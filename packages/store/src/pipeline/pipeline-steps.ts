/**
 * The hand-offs between stages that more than one worker performs. Each is safe to call any number of
 * times from any process: the enqueue callbacks use deterministic job ids.
 */
import type { Store } from '../db/store.ts';
import { batchStats } from './batches.repository.ts';
import { isTerminal, runsOfSync } from './runs.repository.ts';
import { releaseSyncLock } from './sync-lock.ts';

/**
 * When the parse has finished and no batch is pending any more, the run is ready for finalize. Called
 * by the parse worker at its end and by every upsert job after its batch: whichever comes last
 * enqueues (both may: the job id dedupes).
 */
export async function finalizeIfReady(
  store: Store,
  runId: string,
  enqueueFinalize: (runId: string, connectorId: string, generation: number) => Promise<unknown>,
): Promise<boolean> {
  const run = await store.col.runs.findOne({ _id: runId }, { projection: { parse: 1, state: 1, resumes: 1, connectorId: 1 } });
  if (!run?.parse || !['parsing', 'writing', 'finalizing'].includes(run.state)) return false;
  const stats = await batchStats(store, runId);
  if (stats.pending > 0 || stats.staged < run.parse.batches) return false;
  await enqueueFinalize(runId, run.connectorId, run.resumes);
  return true;
}

/**
 * After a run of a sync ends: start the next queued run of the same sync (reports are ingested one by
 * one, oldest first), or release the connector's sync lock when none is left.
 */
export async function continueSync(
  store: Store,
  syncId: string,
  connectorId: string,
  enqueueFetch: (runId: string, connectorId: string) => Promise<unknown>,
): Promise<'next' | 'busy' | 'released'> {
  const runs = await runsOfSync(store, syncId);
  if (runs.some((r) => !isTerminal(r.state) && r.state !== 'queued')) return 'busy';
  const next = runs.find((r) => r.state === 'queued');
  if (next) {
    await enqueueFetch(next._id, connectorId);
    return 'next';
  }
  await releaseSyncLock(store, connectorId, syncId);
  return 'released';
}
