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
    // reportBytes: the report's size once its file is stored (Qualys announces none before)
    progress: { ...d.progress, reportBytes: d.file?.length ?? null },
    // the stored report file: removed by report retention once purgedAt is set (a retried parse then refuses)
    file: d.file ? { length: d.file.length, sha256: d.file.sha256, purgedAt: d.file.purgedAt ?? null } : null,
    /** times the run was revived by a retried job */
    resumes: d.resumes ?? 0,
    urba: d.urba,
    review: d.review,
    error: d.error,
  };
}
