/**
 * Sync planning (domain.md "Which reports a sync pulls"): take the connector's sync lock, list the
 * reports, pick the new ones, create one run per chosen report (ingested one by one, oldest first), or
 * a `no-new-report` run. Idempotent: the sync id is the job id, run ids derive from it, so a retried
 * planning job finds its own lock and runs and carries on.
 */
import { selectReports } from '@qpc/domain';
import type { QualysClient } from '@qpc/qualys-client';
import type { SecretBox } from '@qpc/secrets';
import type { RunTrigger, Store } from '@qpc/store/db';
import { connectorCredentials, getConnector } from '@qpc/store/connectors';
import { acquireSyncLock, addQualysStats, continueSync, createRun, failRun, releaseSyncLock, setLockRuns } from '@qpc/store/pipeline';
import type { Enqueuer } from '@qpc/jobs';
import type { Logger } from '@qpc/worker-kit';
import { ONE_BATCH } from '@qpc/store/db';
import { planPostureSync } from './posture-sync.ts';
import { runIdFor } from './run-id.ts';

export interface SyncDeps {
  store: Store;
  box: SecretBox;
  qualys: (creds: { url: string; username: string; password: string }) => QualysClient;
  /** its fetch jobs (the enqueuer names their ids) */
  enqueue: Pick<Enqueuer, 'fetch'>;
  logger: Logger;
  now?: () => Date;
}

export type SyncResult =
  | { outcome: 'joined'; syncId: string }
  | { outcome: 'planned'; syncId: string; runIds: string[] }
  | { outcome: 'no-new-report'; syncId: string; runId: string }
  | { outcome: 'resumed'; syncId: string; step: string }
  | { outcome: 'connector-deleting'; syncId: string };

export { runIdFor };

export async function planSync(
  deps: SyncDeps,
  syncId: string,
  req: { connectorId: string; trigger: RunTrigger; reingest: boolean },
): Promise<SyncResult> {
  const { store } = deps;
  const now = deps.now?.() ?? new Date();
  const connector = await getConnector(store, req.connectorId);
  const lock = await acquireSyncLock(store, connector._id, syncId, now);
  if (!lock.acquired) return { outcome: 'joined', syncId: lock.holder.syncId };
  // a delete that stopped half-way marks its connector; its lock may have gone stale and been taken over
  if ((await getConnector(store, req.connectorId)).deleting) {
    await releaseSyncLock(store, connector._id, syncId);
    deps.logger.info({ connectorId: connector._id, syncId }, 'sync: the connector is being deleted; nothing to do');
    return { outcome: 'connector-deleting', syncId };
  }
  if (lock.lock.runIds.length > 0) {
    // a retried planning job: its runs exist; make sure the sync goes on
    const step = await continueSync(store, syncId, connector._id, deps.enqueue.fetch);
    return { outcome: 'resumed', syncId, step };
  }
  if (connector.source === 'posture') return planPostureSync(deps, connector, syncId, req, now);
  const client = deps.qualys(connectorCredentials(connector, deps.box));
  let stats = { calls: 0, conflicts409: 0, waitedSec: 0 };
  let reports;
  try {
    reports = await client.listReports();
  } finally {
    const s = client.stats();
    stats = { calls: s.calls, conflicts409: s.conflicts409, waitedSec: s.waitedSec + s.slotWaitSec };
    await client.close();
  }
  const ingested = new Set(
    (await store.col.reports.find({ connectorId: connector._id }, { batchSize: ONE_BATCH, projection: { reportId: 1 } }).toArray()).map((r) => r.reportId),
  );
  const sel = selectReports(reports, { prefix: connector.reportTitlePrefix, ingested, now, reingest: req.reingest });
  const skipped = sel.skipped.map((s) => ({ reportId: s.report.id, title: s.report.title, launchedAt: s.report.launchedAt ?? null, reason: s.reason }));
  if (sel.chosen.length === 0) {
    const runId = runIdFor(syncId, 'none');
    await createRun(store, { _id: runId, connectorId: connector._id, syncId, trigger: req.trigger, network: connector.network, index: 0, report: null, skipped, state: 'no-new-report' }, now);
    await addQualysStats(store, runId, stats);
    await releaseSyncLock(store, connector._id, syncId);
    deps.logger.info({ connectorId: connector._id, syncId, listed: reports.length }, 'sync: no new report');
    return { outcome: 'no-new-report', syncId, runId };
  }
  const runIds: string[] = [];
  for (const [index, r] of sel.chosen.entries()) {
    const runId = runIdFor(syncId, r.id);
    runIds.push(runId);
    await createRun(
      store,
      {
        _id: runId,
        connectorId: connector._id,
        syncId,
        trigger: req.trigger,
        network: connector.network,
        index,
        report: { id: r.id, title: r.title, launchedAt: r.launchedAt ?? null },
        skipped: index === 0 ? skipped : [],
        state: 'queued',
      },
      now,
    );
  }
  const first = runIds[0] as string;
  await addQualysStats(store, first, stats);
  await setLockRuns(store, connector._id, syncId, runIds);
  await deps.enqueue.fetch(first, connector._id);
  deps.logger.info({ connectorId: connector._id, syncId, runs: runIds.length, skipped: skipped.length }, 'sync planned');
  return { outcome: 'planned', syncId, runIds };
}

/** A planning job that failed for good: one failed run in the history says why; the lock goes. */
export async function recordSyncFailure(
  store: Store,
  syncId: string,
  req: { connectorId: string; trigger: RunTrigger },
  error: { class: string; message: string },
): Promise<void> {
  const connector = await store.col.connectors.findOne({ _id: req.connectorId });
  if (!connector) return;
  const lock = await store.col.syncLocks.findOne({ _id: connector._id });
  if (lock?.syncId === syncId && lock.runIds.length > 0) return; // runs exist: they carry on
  const runId = runIdFor(syncId, 'failed');
  const now = new Date();
  await createRun(store, { _id: runId, connectorId: connector._id, syncId, trigger: req.trigger, network: connector.network, index: 0, report: null, state: 'queued' }, now);
  await failRun(store, runId, { class: error.class, message: error.message, stage: 'sync' }, now);
  await releaseSyncLock(store, connector._id, syncId);
}
