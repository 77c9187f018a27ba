/**
 * The sync and fetch processors: payload in, one service call, outcome out. A final failure is recorded on
 * the run by the final-failure handlers, which @qpc/worker-kit's runWorker calls (onFinalFailure) also for
 * a job failed by stalling out.
 */
import type { Enqueuer } from '@qpc/jobs';
import type { Store } from '@qpc/store/db';
import { continueSync, failRun, getRun } from '@qpc/store/pipeline';
import { rootCause, type FinalFailureHandler, type Handler } from '@qpc/worker-kit';
import { planSync, recordSyncFailure, type SyncDeps } from './sync.service.ts';
import { fetchRun, type FetchDeps } from './fetch.service.ts';
import { postureFetchFinalFailure } from './posture-fetch.ts';

export function errorClass(err: unknown): string {
  const e = err as { name?: string; code?: string | number };
  return [e.name ?? 'Error', e.code].filter((x) => x !== undefined).join(':');
}

/** Bad credentials and other answers marked not retryable fail the job at once (runWorker). */
export function syncHandler(deps: SyncDeps): Handler<'sync'> {
  return async (data, { job }) => {
    const r = await planSync(deps, String(job.id), data);
    const skipped = r.outcome === 'joined' || r.outcome === 'connector-deleting';
    return { outcome: skipped ? 'skipped' : 'done', result: r.outcome, syncId: r.syncId };
  };
}

/** A planning job that failed for good: a failed run says why, the lock goes (the sync id is the job id). */
export function syncFinalFailure(deps: Pick<SyncDeps, 'store'>): FinalFailureHandler<'sync'> {
  return async (data, err, { job }) => {
    const e = rootCause(err);
    await recordSyncFailure(deps.store, String(job.id), data, { class: errorClass(e), message: e.message });
  };
}

export function fetchHandler(deps: FetchDeps): Handler<'fetch'> {
  return async (data, { progress }) => fetchRun({ ...deps, progress: (p) => progress(p) }, data.runId);
}

/** A download that failed for good: the run is failed (a run already ended is left as it is), the sync goes on. */
export function fetchFinalFailure(deps: { store: Store; enqueue: Pick<Enqueuer, 'fetch' | 'parse'> }): FinalFailureHandler<'fetch'> {
  return async (data, err) => {
    const e = rootCause(err);
    // a posture run with pages stored ingests them (partial, closes nothing) rather than failing
    if (await postureFetchFinalFailure(deps.store, deps.enqueue, data.runId, e)) return;
    await failAndContinue(deps.store, data.runId, e, deps.enqueue);
  };
}

async function failAndContinue(store: Store, runId: string, err: Error, enqueue: Pick<Enqueuer, 'fetch'>): Promise<void> {
  const run = await failRun(store, runId, { class: errorClass(err), message: err.message, stage: 'fetch' });
  const r = run ?? (await getRun(store, runId));
  await continueSync(store, r.syncId, r.connectorId, enqueue.fetch);
}
