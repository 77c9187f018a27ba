/**
 * Upsert and finalize processors. A batch that fails for good is marked failed: its run ends `partial` and
 * closes nothing. A run whose finalize fails for good is failed and its sync goes on. The final-failure
 * handlers run through @qpc/worker-kit's runWorker (onFinalFailure), also for jobs failed by stalling out.
 */
import { StoreError } from '@qpc/store/db';
import { continueSync, failRun, finalizeIfReady, getRun, markBatchFailed } from '@qpc/store/pipeline';
import { rootCause, type FinalFailureHandler, type Handler } from '@qpc/worker-kit';
import { upsertBatch, type UpsertDeps } from './upsert.service.ts';
import { finalize, type FinalizeDeps } from './finalize.service.ts';

export function upsertHandler(deps: UpsertDeps): Handler<'upsert'> {
  return async (data) => upsertBatch(deps, data.runId, data.seq);
}

/**
 * The batch is failed (only if not written: idempotent); the run finalizes once no batch is pending. A
 * retried batch whose run could not be revived (reviveRun: superseded, or its connector kept busy) is left
 * as it was, with its own failure.
 */
export function upsertFinalFailure(deps: Pick<UpsertDeps, 'store' | 'enqueueFinalize'>): FinalFailureHandler<'upsert'> {
  return async (data, err) => {
    const cause = rootCause(err);
    if (cause instanceof StoreError && (cause.code === 'RUN_SUPERSEDED' || cause.code === 'SYNC_BUSY')) return;
    // a wrapper made by runWorker (not retryable) names the original's class or code in its own message
    await markBatchFailed(deps.store, data.runId, data.seq, cause !== err ? err.message : `${err.name}: ${err.message}`);
    await finalizeIfReady(deps.store, data.runId, deps.enqueueFinalize);
  };
}

export function finalizeHandler(deps: FinalizeDeps): Handler<'finalize'> {
  return async (data) => finalize(deps, data.runId);
}

/** A run that cannot be finalized is failed (a finalized one is left as it is); its sync goes on. */
export function finalizeFinalFailure(deps: Pick<FinalizeDeps, 'store' | 'enqueueFetch'>): FinalFailureHandler<'finalize'> {
  return async (data, err) => {
    const run = (await failRun(deps.store, data.runId, { class: err.name, message: err.message, stage: 'finalize' })) ?? (await getRun(deps.store, data.runId));
    await continueSync(deps.store, run.syncId, run.connectorId, deps.enqueueFetch);
  };
}
