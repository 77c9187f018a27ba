import type { RunDoc } from '@qpc/store';

/** A run record as the API shows it (field by field: nothing new leaks by default). */
export function runView(d: RunDoc) {
  return {
    id: d._id,
    connectorId: d.connectorId,
    syncId: d.syncId,
    trigger: d.trigger,
    reportId: d.reportId,
    reportTitle: d.reportTitle,
    reportLaunchedAt: d.reportLaunchedAt,
    attempt: d.attempt,
    network: d.network,
    state: d.state,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    endedAt: d.endedAt,
    timings: d.timings,
    counts: d.counts,
    rejected: d.rejected,
    skipped: d.skipped,
    qualys: d.qualys,
    progress: d.progress,
    urba: d.urba,
    review: d.review,
    error: d.error,
  };
}
