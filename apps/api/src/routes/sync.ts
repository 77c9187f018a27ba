/**
 * On-demand sync. One sync per connector at a time: when one is running (its lock is held) or
 * already queued (BullMQ deduplication on the connector id), the answer is that one, not a second.
 * The job carries ids only; its id (named by @qpc/jobs' addSyncRequest) is the sync id the planner uses.
 */
import { addSyncRequest } from '@qpc/jobs';
import type { ConnectorDoc, RunDoc } from '@qpc/store';
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
  };
}
