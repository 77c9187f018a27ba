/**
 * The parse processor: one service call. A parse that fails for good still reaches finalize, which closes
 * nothing: parseFinalFailure, which @qpc/worker-kit's runWorker calls (onFinalFailure) also for a job failed
 * by stalling out.
 */
import { failParse, finalizeIfReady } from '@qpc/store/pipeline';
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
    // the run is handed to writing with an incomplete parse (see failParse), then to finalize once its
    // staged batches are written
    const run = await failParse(deps.store, data.runId, { class: e.name, message: e.message });
    if (!run) return;
    await finalizeIfReady(deps.store, data.runId, deps.enqueue.finalize);
  };
}
