/** The parse processor: one service call; a parse that fails for good still reaches finalize, which closes nothing. */
import { UnrecoverableError, type Job } from 'bullmq';
import { advanceRun, finalizeIfReady, StoreError } from '@qpc/store';
import type { Handler } from '@qpc/worker-kit';
import { parseRun, type ParseDeps } from './parse.service.ts';

function isFinalAttempt(job: Job, err: unknown): boolean {
  return err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/** A store error that says retrying cannot help (e.g. the report file was removed by retention). */
function permanent(err: unknown): unknown {
  if (err instanceof StoreError && !err.retryable) return new UnrecoverableError(`${err.code}: ${err.message}`);
  return err;
}

export function parseHandler(deps: ParseDeps): Handler<'parse'> {
  return async (data, { job, progress }) => {
    try {
      return await parseRun({ ...deps, progress: (p) => progress(p) }, data.runId);
    } catch (caught) {
      const err = permanent(caught);
      if (isFinalAttempt(job, err)) {
        const e = caught as Error;
        const run = await advanceRun(deps.store, data.runId, ['parsing'], 'writing', {
          set: { parse: { complete: false, batches: 0, summary: null }, error: { class: e.name, message: e.message.slice(0, 2000), stage: 'parse', at: new Date() } },
        });
        // batches staged before the failure are counted as staged; finalize sees an incomplete parse
        if (run) {
          const staged = await deps.store.col.batches.countDocuments({ runId: data.runId });
          await deps.store.col.runs.updateOne({ _id: data.runId }, { $set: { 'parse.batches': staged } });
          await finalizeIfReady(deps.store, data.runId, deps.enqueueFinalize);
        }
      }
      throw err;
    }
  };
}
