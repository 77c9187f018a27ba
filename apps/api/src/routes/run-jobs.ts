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
import { requestSync, type SyncAnswer } from './sync.ts';

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

export type RetryAction = 'retried-jobs' | 'started-sync' | 'joined-sync';

export interface RetryAnswer {
  runId: string;
  action: RetryAction;
  /** the failed jobs put back in their queues (retried-jobs) */
  retried: { queue: QueueName; id: string; url: string }[];
  /** the sync started or joined instead (started-sync, joined-sync) */
  sync: SyncAnswer | null;
  /** what was done, in words (the console shows it) */
  message: string;
}

/**
 * Retry of a failed or partial run: its failed jobs go back to their queues, as the board's Retry does;
 * the worker that takes a retried job revives the run (reviveRun in @qpc/store, which has the last word).
 *
 * When the run's jobs cannot be retried, the sensible retry is a fresh sync of the connector, and the
 * answer says so (action, message):
 * - no failed job is left (a failure in the sync or fetch stage ends its job, a failed job is kept 14 days);
 * - a later run of the connector has written since (retrying would undo its statuses);
 * - another sync of the connector is running: that one is joined, not a second started.
 * Refused (409): a run that is not failed or partial, a connector deleted or being deleted.
 */
export async function retryRun(deps: ServerDeps, run: RunDoc): Promise<RetryAnswer> {
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
  if (later) return syncInstead(deps, run, `a later run of this connector (run ${later._id}, report ${later.reportId}) has written since, so its jobs are not retried (that would undo its statuses)`);
  const lock = await deps.store.col.syncLocks.findOne({ _id: run.connectorId });
  if (lock && lock.syncId !== run.syncId) return syncInstead(deps, run, `connector ${run.connectorId} is syncing (sync ${lock.syncId})`);
  const failed = (await runJobs(deps, run)).filter((j) => j.view.state === 'failed');
  if (failed.length === 0) return syncInstead(deps, run, `run ${run._id} has no failed job left to retry (its failure ended its jobs, or they are no longer kept)`);
  for (const { job } of failed) await job.retry('failed');
  return {
    runId: run._id,
    action: 'retried-jobs',
    retried: failed.map(({ view }) => ({ queue: view.queue, id: view.id, url: view.url })),
    sync: null,
    message: `Retry requested: ${failed.length} failed job${failed.length === 1 ? '' : 's'} back in the queue`,
  };
}

async function syncInstead(deps: ServerDeps, run: RunDoc, why: string): Promise<RetryAnswer> {
  const connector = await deps.store.col.connectors.findOne({ _id: run.connectorId });
  if (!connector) throw conflict('CONNECTOR_GONE', `${why}; connector ${run.connectorId} no longer exists, so no sync can replace the retry`);
  if (connector.deleting) throw conflict('CONNECTOR_DELETING', `${why}; connector ${run.connectorId} is being deleted, so no sync can replace the retry`);
  const sync = await requestSync(deps, connector, { reingest: false });
  const joined = sync.joined;
  return {
    runId: run._id,
    action: joined ? 'joined-sync' : 'started-sync',
    retried: [],
    sync,
    message: `${why}: ${joined ? `joined the sync already ${sync.state}` : 'started a new sync of the connector instead'}`,
  };
}
