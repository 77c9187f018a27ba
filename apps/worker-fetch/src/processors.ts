/** The sync and fetch processors: payload in, one service call, outcome out; a final failure is recorded on the run. */
import { UnrecoverableError, type Job } from 'bullmq';
import { isQualysError } from '@qpc/qualys-client';
import { continueSync, failRun, getRun, type Store } from '@qpc/store';
import type { Handler } from '@qpc/worker-kit';
import { planSync, recordSyncFailure, type SyncDeps } from './sync.service.ts';
import { fetchRun, type FetchDeps } from './fetch.service.ts';

export function isFinalAttempt(job: Job, err: unknown): boolean {
  return err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export function errorClass(err: unknown): string {
  const e = err as { name?: string; code?: string | number };
  return [e.name ?? 'Error', e.code].filter((x) => x !== undefined).join(':');
}

/** Bad credentials and other non-retryable Qualys answers are not worth retrying. */
function permanent(err: unknown): unknown {
  if (isQualysError(err) && !err.retryable) return new UnrecoverableError(err.message);
  return err;
}

export function syncHandler(deps: SyncDeps): Handler<'sync'> {
  return async (data, { job }) => {
    const syncId = String(job.id);
    try {
      const r = await planSync(deps, syncId, data);
      return { outcome: r.outcome === 'joined' ? 'skipped' : 'done', result: r.outcome, syncId: r.syncId };
    } catch (err) {
      const e = permanent(err);
      if (isFinalAttempt(job, e)) {
        await recordSyncFailure(deps.store, syncId, data, { class: errorClass(err), message: (err as Error).message });
      }
      throw e;
    }
  };
}

export function fetchHandler(deps: FetchDeps & { enqueueFetch: (runId: string, connectorId: string) => Promise<unknown> }): Handler<'fetch'> {
  return async (data, { job, progress }) => {
    try {
      return await fetchRun({ ...deps, progress: (p) => progress(p) }, data.runId);
    } catch (err) {
      const e = permanent(err);
      if (isFinalAttempt(job, e)) await failAndContinue(deps.store, data.runId, err, deps.enqueueFetch);
      throw e;
    }
  };
}

async function failAndContinue(store: Store, runId: string, err: unknown, enqueueFetch: (runId: string, connectorId: string) => Promise<unknown>): Promise<void> {
  const run = await failRun(store, runId, { class: errorClass(err), message: (err as Error).message, stage: 'fetch' });
  const r = run ?? (await getRun(store, runId));
  await continueSync(store, r.syncId, r.connectorId, enqueueFetch);
}
