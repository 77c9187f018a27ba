/** Upsert and finalize processors. A batch that fails for good is marked failed: its run ends `partial` and closes nothing. */
import { UnrecoverableError, type Job } from 'bullmq';
import { finalizeIfReady, markBatchFailed } from '@qpc/store';
import type { Handler } from '@qpc/worker-kit';
import { upsertBatch, type UpsertDeps } from './upsert.service.ts';
import { finalize, type FinalizeDeps } from './finalize.service.ts';

function isFinalAttempt(job: Job, err: unknown): boolean {
  return err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export function upsertHandler(deps: UpsertDeps): Handler<'upsert'> {
  return async (data, { job }) => {
    try {
      return await upsertBatch(deps, data.runId, data.seq);
    } catch (err) {
      if (isFinalAttempt(job, err)) {
        await markBatchFailed(deps.store, data.runId, data.seq, `${(err as Error).name}: ${(err as Error).message}`);
        await finalizeIfReady(deps.store, data.runId, deps.enqueueFinalize);
      }
      throw err;
    }
  };
}

export function finalizeHandler(deps: FinalizeDeps): Handler<'finalize'> {
  return async (data) => finalize(deps, data.runId);
}
