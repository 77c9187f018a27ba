import type { RunDoc, RunWaiting } from '@qpc/store/db';

function waitingMessage(w: RunWaiting): string {
  return `waiting for ${w.pending} batch${w.pending === 1 ? '' : 'es'} to be written`;
}

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
    /** the newest assessment date the run read (a report's generation date), once it ended */
    dataAsOf: d.dataAsOf ?? null,
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
    progress: {
      // a run recorded before progress existed (or by hand) has none: zeros, not an error
      bytesDownloaded: d.progress?.bytesDownloaded ?? 0,
      bytesParsed: d.progress?.bytesParsed ?? 0,
      batchesWritten: d.progress?.batchesWritten ?? 0,
      // the report's size: its stored file's, or while it downloads the size the download announced
      reportBytes: d.file?.length ?? d.progress?.bytesAnnounced ?? null,
      // where a parsing run waits (backpressure on the writers); a stale mark of a crashed attempt is not shown
      waiting: d.state === 'parsing' && d.progress?.waiting ? { ...d.progress.waiting, message: waitingMessage(d.progress.waiting) } : null,
    },
    // the stored report file: removed by report retention once purgedAt is set (a retried parse then refuses)
    file: d.file ? { length: d.file.length, sha256: d.file.sha256, purgedAt: d.file.purgedAt ?? null } : null,
    /** times the run was revived by a retried job */
    resumes: d.resumes ?? 0,
    urba: d.urba,
    review: d.review,
    error: d.error,
    // the embedded database holds more than it was measured to sync in time: the way out named (db-mode.ts)
    capacityWarning: d.capacity ?? null,
  };
}
