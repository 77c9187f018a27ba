/**
 * Runs that stopped advancing with no job left to move them on (a stage's state change made, its next
 * job never enqueued because the worker died or the database failed in between). The watchdog finds
 * them from the jobs each state needs: a run whose needed jobs are all missing is resumed by enqueueing
 * them (their ids are deterministic, so a job that appears meanwhile is not doubled); a run whose needed
 * job ended without moving it on is failed, which releases its sync's lock (or starts its next run).
 */
import { ONE_BATCH } from '../db/one-batch.ts';
import type { Store } from '../db/store.ts';
import type { RunDoc, RunState } from '../db/documents.ts';
import { failRunAsSeen, isTerminal, runsOfSync, touchRun } from './runs.repository.ts';
import { continueSync } from './pipeline-steps.ts';

export type PipelineStage = 'fetch' | 'parse' | 'upsert' | 'finalize';
/** live: waiting, delayed, active or prioritized; ended: completed or failed; missing: no such job */
export type JobPresence = 'live' | 'ended' | 'missing';

/** The queues' side, kept apart so that the store knows runs and the caller knows job ids. */
export interface StageJobs {
  /** `key`: the run's generation (fetch, parse, finalize) or the batch's seq (upsert) */
  presence(stage: PipelineStage, runId: string, key: number): Promise<JobPresence>;
  enqueue(stage: PipelineStage, run: Pick<RunDoc, '_id' | 'connectorId'>, key: number): Promise<unknown>;
}

export interface NeededJob {
  stage: PipelineStage;
  key: number;
  presence: JobPresence;
}

export interface StuckRun {
  run: RunDoc;
  jobs: NeededJob[];
}

/** QPC_STUCK_AFTER_MS's default: longer than any hand-off between two stages takes */
export const DEFAULT_STUCK_AFTER_MS = 300_000;

const IN_PROGRESS: RunState[] = ['queued', 'fetching', 'parsing', 'writing', 'finalizing'];

/** The jobs that move a run on from its state; [] when another run of its sync goes first. */
async function neededJobs(store: Store, run: RunDoc): Promise<Array<Omit<NeededJob, 'presence'>>> {
  const gen = run.resumes ?? 0;
  switch (run.state) {
    case 'queued': {
      // reports of a sync are ingested one by one: a queued run waits while another of its sync runs
      const others = await runsOfSync(store, run.syncId);
      const busy = others.some((r) => r._id !== run._id && !isTerminal(r.state) && r.state !== 'queued');
      const first = others.filter((r) => r.state === 'queued').sort((a, b) => a.index - b.index)[0];
      return busy || first?._id !== run._id ? [] : [{ stage: 'fetch', key: 0 }];
    }
    case 'fetching':
      return [{ stage: 'fetch', key: 0 }];
    case 'parsing':
    case 'writing': {
      const pending = await store.col.batches.find({ runId: run._id, done: null, failed: null }, { batchSize: ONE_BATCH, projection: { seq: 1 } }).toArray();
      const upserts = pending.map((b) => ({ stage: 'upsert' as const, key: b.seq }));
      if (run.state === 'parsing') return [{ stage: 'parse', key: gen }, ...upserts];
      return upserts.length ? upserts : [{ stage: 'finalize', key: gen }];
    }
    case 'finalizing':
      return [{ stage: 'finalize', key: gen }];
    default:
      return [];
  }
}

/**
 * In-progress runs not updated for `quietMs` whose needed jobs are none of them live. Runs only
 * waiting (a long parse held by backpressure, a queued run behind another) are not stuck: a job of
 * theirs is live, or they need none yet.
 */
export async function findStuckRuns(store: Store, jobs: Pick<StageJobs, 'presence'>, quietMs: number, now = new Date()): Promise<StuckRun[]> {
  const quiet = await store.col.runs
    .find({ state: { $in: IN_PROGRESS }, updatedAt: { $lt: new Date(now.getTime() - quietMs) } }, { batchSize: ONE_BATCH })
    .toArray();
  const stuck: StuckRun[] = [];
  for (const run of quiet) {
    const needed = await neededJobs(store, run);
    if (needed.length === 0) continue;
    const withPresence: NeededJob[] = [];
    for (const j of needed) withPresence.push({ ...j, presence: await jobs.presence(j.stage, run._id, j.key) });
    if (withPresence.some((j) => j.presence === 'live')) continue;
    stuck.push({ run, jobs: withPresence });
  }
  return stuck;
}

export interface Recovery {
  runId: string;
  state: RunState;
  action: 'resumed' | 'failed';
  jobs: string[];
}

/**
 * Resume or fail each stuck run. Resuming enqueues the missing jobs; a run whose needed job ended
 * without moving it on cannot be resumed by a new job of the same id, so it fails (RUN_STUCK) and can
 * be retried from the job board or the API like any failed run.
 */
export async function recoverStuckRuns(store: Store, jobs: StageJobs, quietMs: number, now = new Date()): Promise<Recovery[]> {
  const out: Recovery[] = [];
  for (const { run, jobs: needed } of await findStuckRuns(store, jobs, quietMs, now)) {
    const names = needed.map((j) => `${j.stage}:${j.key}`);
    if (needed.every((j) => j.presence === 'missing')) {
      for (const j of needed) await jobs.enqueue(j.stage, run, j.key);
      // touched, so the next sweep gives the new jobs time before looking again
      await touchRun(store, run._id, run.state, now);
      out.push({ runId: run._id, state: run.state, action: 'resumed', jobs: names });
      continue;
    }
    const ended = needed.filter((j) => j.presence === 'ended').map((j) => `${j.stage}:${j.key}`);
    const message = `the run stopped in ${run.state}: its job (${ended.join(', ')}) ended without moving it on; retry the run`;
    const failed = await failRunAsSeen(store, run, { class: 'RUN_STUCK', message, stage: stageOf(run.state) }, now);
    if (failed) await continueSync(store, run.syncId, run.connectorId, (runId, connectorId) => jobs.enqueue('fetch', { _id: runId, connectorId }, 0));
    out.push({ runId: run._id, state: run.state, action: 'failed', jobs: names });
  }
  return out;
}

function stageOf(state: RunState): 'sync' | 'fetch' | 'parse' | 'upsert' | 'finalize' {
  if (state === 'queued' || state === 'fetching') return 'fetch';
  if (state === 'parsing') return 'parse';
  if (state === 'writing') return 'upsert';
  return 'finalize';
}
