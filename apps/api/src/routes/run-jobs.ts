/**
 * The BullMQ jobs of a run, found by their deterministic ids (the catalogue's jobIds; the generation is
 * the run's resume count), each linked into Bull Board; and the retry of a run's failed jobs.
 */
import { jobIds, type QueueName } from '@qpc/jobs';
import type { RunDoc } from '@qpc/store/db';
import type { Job } from 'bullmq';
import { BOARD_PATH } from '../board.ts';
import { conflict } from '../errors.ts';
import type { ServerDeps } from '../server.ts';

/** upsert jobs looked up per run at most (a run of a million findings has ~1,000 batches) */
const MAX_BATCH_JOBS = 5000;

export interface RunJob {
  queue: QueueName;
  id: string;
  state: string;
  url: string;
}

export const boardJobUrl = (queue: QueueName, id: string) => `${BOARD_PATH}/queue/${encodeURIComponent(queue)}/${encodeURIComponent(id)}`;

function candidateIds(run: RunDoc): [QueueName, string][] {
  const out: [QueueName, string][] = [];
  for (let g = 0; g <= (run.resumes ?? 0); g++) {
    out.push(['fetch', jobIds.fetch(run._id, g)], ['parse', jobIds.parse(run._id, g)], ['finalize', jobIds.finalize(run._id, g)]);
  }
  const batches = Math.min(MAX_BATCH_JOBS, Math.max(run.counts?.batches ?? 0, run.parse?.batches ?? 0));
  for (let seq = 0; seq < batches; seq++) out.push(['upsert', jobIds.upsert(run._id, seq)]);
  return out;
}

/** The run's jobs still kept in Redis (completed upsert jobs are trimmed early), with their state. */
export async function runJobs(deps: ServerDeps, run: RunDoc): Promise<{ job: Job; view: RunJob }[]> {
  const found = await Promise.all(
    candidateIds(run).map(async ([queue, id]) => {
      const job = await deps.queues[queue].getJob(id);
      if (!job) return null;
      return { job, view: { queue, id, state: await job.getState(), url: boardJobUrl(queue, id) } };
    }),
  );
  return found.filter((j) => j !== null);
}

/**
 * Retry a failed or partial run's failed jobs, as the board's Retry does; the worker that takes a
 * retried job revives the run (reviveRun in @qpc/store, which has the last word). The refusals reviveRun
 * would give are checked first, so the console shows the reason instead of a job failing again.
 */
export async function retryRun(deps: ServerDeps, run: RunDoc) {
  if (run.state !== 'failed' && run.state !== 'partial') {
    throw conflict('RUN_NOT_RETRYABLE', `run ${run._id} is ${run.state}: only failed or partial runs are retried`);
  }
  const later = await deps.store.col.runs.findOne(
    {
      connectorId: run.connectorId,
      _id: { $ne: run._id },
      state: { $in: ['succeeded', 'partial'] },
      $or: [{ createdAt: { $gt: run.createdAt } }, { syncId: run.syncId, index: { $gt: run.index } }],
    },
    { projection: { _id: 1, reportId: 1 } },
  );
  if (later) {
    throw conflict(
      'RUN_SUPERSEDED',
      `a later run of this connector (run ${later._id}, report ${later.reportId}) has written since; retrying would undo its statuses: sync the connector instead`,
    );
  }
  const lock = await deps.store.col.syncLocks.findOne({ _id: run.connectorId });
  if (lock && lock.syncId !== run.syncId) {
    throw conflict('SYNC_BUSY', `connector ${run.connectorId} is syncing (sync ${lock.syncId}); retry once that sync has ended`);
  }
  const failed = (await runJobs(deps, run)).filter((j) => j.view.state === 'failed');
  if (failed.length === 0) {
    throw conflict('NO_FAILED_JOBS', `run ${run._id} has no failed job left in the queues (failed jobs are kept 14 days): sync the connector instead`);
  }
  for (const { job } of failed) await job.retry('failed');
  return { runId: run._id, retried: failed.map(({ view }) => ({ queue: view.queue, id: view.id, url: view.url })) };
}
