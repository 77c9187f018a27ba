/**
 * The parse processor: one service call. A parse that fails for good still reaches finalize, which closes
 * nothing: parseFinalFailure, which @qpc/worker-kit's runWorker calls (onFinalFailure) also for a job failed
 * by stalling out.
 */
import { finalizeIfReady } from '@qpc/store';
import { rootCause, type FinalFailureHandler, type Handler } from '@qpc/worker-kit';
import { parseRun, type ParseDeps } from './parse.service.ts';

/** A store error marked not retryable (e.g. the report file was removed by retention) fails the job at once (runWorker). */
export function parseHandler(deps: ParseDeps): Handler<'parse'> {
  return async (data, { progress }) => parseRun({ ...deps, progress: (p) => progress(p) }, data.runId);
}

/**
 * The run goes on to writing with an incomplete parse, its staged batches counted, and finalizes once they
 * are written. Idempotent: only a run still parsing is moved (a parse that ended is left as it is); a run
 * this handler moved already is only counted and checked again.
 */
export function parseFinalFailure(deps: { store: ParseDeps['store']; enqueue: Pick<ParseDeps['enqueue'], 'finalize'> }): FinalFailureHandler<'parse'> {
  return async (data, err) => {
    const e = rootCause(err);
    const now = new Date();
    const moved = await deps.store.col.runs.findOneAndUpdate(
      { _id: data.runId, state: 'parsing' },
      {
        $set: {
          state: 'writing',
          updatedAt: now,
          endedAt: null,
          parse: { complete: false, batches: 0, summary: null },
          error: { class: e.name, message: e.message.slice(0, 2000), stage: 'parse', at: now },
        },
      },
      { returnDocument: 'after' },
    );
    const run = moved ?? (await deps.store.col.runs.findOne({ _id: data.runId, state: 'writing', 'parse.complete': false, 'error.stage': 'parse' }));
    if (!run) return;
    // batches staged before the failure are counted as staged; finalize sees an incomplete parse
    const staged = await deps.store.col.batches.countDocuments({ runId: data.runId });
    await deps.store.col.runs.updateOne({ _id: data.runId, state: 'writing' }, { $set: { 'parse.batches': staged } });
    await finalizeIfReady(deps.store, data.runId, deps.enqueue.finalize);
  };
}
