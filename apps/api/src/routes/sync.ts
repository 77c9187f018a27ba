/**
 * On-demand sync. One sync per connector at a time: when one is running (its lock is held) or
 * already queued (BullMQ deduplication on the connector id), the answer is that one, not a second.
 * A reingest request that joins a sync which does not re-ingest is ignored, and the answer says so
 * (queueing it after would re-ingest a report the running sync may be ingesting right now).
 * The job carries ids only; its id (named by @qpc/jobs' addSyncRequest) is the sync id the planner uses.
 */
import { addSyncRequest } from '@qpc/jobs';
import type { ConnectorDoc, RunDoc } from '@qpc/store/db';
import type { ServerDeps } from '../server.ts';
import { runView } from './run-view.ts';

export interface SyncAnswer {
  connectorId: string;
  /** the sync job (Bull Board shows it under the sync queue) */
  jobId: string;
  /** id of the running sync, once it is planned */
  syncId: string | null;
  /** true: a sync was already queued or running; this is that one */
  joined: boolean;
  state: 'queued' | 'running';
  /** the runs of that sync, when it has created them already (newest first) */
  runs: ReturnType<typeof runView>[];
  /** whether that sync ingests the newest report again (null: not known, its job is gone) */
  reingest: boolean | null;
  /**
   * Set when this request asked for reingest and joined a sync that does not re-ingest: the request
   * is not merged into it nor queued after it (null otherwise).
   */
  reingestIgnored: string | null;
}

const ignoredWhy = (state: 'queued' | 'running', known: boolean) =>
  `ignored: a sync is ${state} for this connector${known ? ' and does not re-ingest' : ''}; retry when it ends`;

async function jobReingest(deps: ServerDeps, jobId: string): Promise<boolean | null> {
  const job = await deps.queues.sync.getJob(jobId);
  const v = (job?.data as { reingest?: unknown } | undefined)?.reingest;
  return job ? v === true : null;
}

function joinedAnswer(requested: boolean, state: 'queued' | 'running', reingest: boolean | null) {
  return { reingest, reingestIgnored: requested && reingest !== true ? ignoredWhy(state, reingest !== null) : null };
}

export async function requestSync(deps: ServerDeps, connector: ConnectorDoc, opts: { reingest: boolean }): Promise<SyncAnswer> {
  const running = await deps.store.col.syncLocks.findOne({ _id: connector._id });
  if (running) {
    const runs = await deps.store.col.runs.find({ syncId: running.syncId }).sort({ createdAt: -1, _id: -1 }).limit(100).toArray();
    return {
      connectorId: connector._id,
      jobId: running.syncId,
      syncId: running.syncId,
      joined: true,
      state: 'running',
      runs: runs.map((r: RunDoc) => runView(r)),
      ...joinedAnswer(opts.reingest, 'running', await jobReingest(deps, running.syncId)),
    };
  }
  const { jobId, joined } = await addSyncRequest(deps.queues.sync, { connectorId: connector._id, reingest: opts.reingest });
  return {
    connectorId: connector._id,
    jobId,
    syncId: null,
    joined,
    state: 'queued',
    runs: [],
    ...(joined
      ? joinedAnswer(opts.reingest, 'queued', await jobReingest(deps, jobId))
      : { reingest: opts.reingest, reingestIgnored: null }),
  };
}
