/**
 * Report retention (config QPC_REPORT_RETENTION): after a run of a connector ends, the stored report
 * files of that connector are pruned to the newest `keep` reports.
 *
 * What is kept:
 * - every file a run that has not ended needs (queued, fetching, parsing, writing, finalizing): the
 *   file ids derive from the run, so this covers a download still being written;
 * - of the files of ended runs, walked newest download first, the newest file of each of the first
 *   `keep` distinct reports. Older copies of a kept report (an earlier attempt, an earlier re-ingest)
 *   go; with `keep` 0 every ended run's file goes.
 *
 * Failed and partial runs count as ended: their files are kept only while among the newest `keep`
 * reports. Such a run retried later still works where it can: a retried fetch downloads the report
 * again (the run records `file.purgedAt`, see usableReportFile), a retried upsert batch needs no file;
 * only a retried parse of a run whose file is gone cannot go on and says so (REPORT_FILE_PURGED). A
 * re-ingest is a new run with its own file id: it always downloads.
 *
 * What records it: the run's `file.purgedAt` and, when the file was the one the ingested-report
 * record points to, that record's `fileId: null` and `filePurgedAt`. Both are written before the file
 * goes, and the run only while it has ended (compare-and-set on its state), so a run revived meanwhile
 * keeps its file; a sweep cut half-way leaves a file document the next sweep finds again.
 *
 * Memory: one page of file documents, the ids of the runs in progress and at most `keep` report ids.
 * Only files whose metadata names the connector are considered (the fetch stage always sets it).
 */
import type { Filter } from 'mongodb';
import type { Store } from '../db/store.ts';
import { REPORT_BUCKET, TERMINAL_RUN_STATES } from '../db/documents.ts';
import { deleteReportFile, reportFileId } from './report-files.ts';
import { isTerminal, markReportFilePurged } from '../pipeline/runs.repository.ts';
import { ONE_BATCH } from '../db/one-batch.ts';

/** Default of QPC_REPORT_RETENTION. */
export const DEFAULT_REPORT_RETENTION = 3;

interface ReportFileEntry {
  _id: string;
  uploadDate: Date;
  metadata?: { runId?: string; reportId?: string; connectorId?: string };
}

export interface PruneResult {
  /** files of ended runs kept (at most `keep`) */
  kept: number;
  /** files kept because a run in progress needs them */
  inUse: number;
  removed: number;
}

export async function pruneReportFiles(
  store: Store,
  connectorId: string,
  opts: { keep: number; now?: Date; pageSize?: number },
): Promise<PruneResult> {
  const now = opts.now ?? new Date();
  const keep = Math.max(0, Math.floor(opts.keep));
  const pageSize = opts.pageSize ?? 200;
  const live = await store.col.runs
    .find({ connectorId, state: { $nin: [...TERMINAL_RUN_STATES] } }, { batchSize: ONE_BATCH, projection: { _id: 1, file: 1 } })
    .toArray();
  const inUse = new Set<string>();
  for (const r of live) {
    inUse.add(reportFileId(r._id));
    if (r.file) inUse.add(r.file.id);
  }

  const files = store.db.collection<ReportFileEntry>(`${REPORT_BUCKET}.files`);
  const keptReports = new Set<string>();
  const result: PruneResult = { kept: 0, inUse: 0, removed: 0 };
  let after: { uploadDate: Date; _id: string } | null = null;
  for (;;) {
    const filter: Filter<ReportFileEntry> = { 'metadata.connectorId': connectorId };
    if (after) {
      filter.$or = [{ uploadDate: { $lt: after.uploadDate } }, { uploadDate: after.uploadDate, _id: { $lt: after._id } }];
    }
    const page = await files
      .find(filter, { batchSize: ONE_BATCH, projection: { _id: 1, uploadDate: 1, metadata: 1 } })
      .sort({ uploadDate: -1, _id: -1 })
      .limit(pageSize)
      .toArray();
    if (page.length === 0) break;
    const last = page[page.length - 1] as ReportFileEntry;
    after = { uploadDate: last.uploadDate, _id: last._id };
    for (const f of page) {
      if (inUse.has(f._id)) {
        result.inUse++;
        continue;
      }
      // a file without a report id counts as a report of its own
      const report = f.metadata?.reportId ?? `file:${f._id}`;
      if (!keptReports.has(report) && keptReports.size < keep) {
        keptReports.add(report);
        result.kept++;
        continue;
      }
      if (await purgeReportFile(store, connectorId, f, now)) result.removed++;
      else result.inUse++;
    }
    if (page.length < pageSize) break;
  }
  return result;
}

/** Record the removal on the run and the ingested-report record, then remove the file. False: a run revived meanwhile needs it. */
async function purgeReportFile(store: Store, connectorId: string, f: ReportFileEntry, now: Date): Promise<boolean> {
  const runId = f.metadata?.runId ?? (f._id.startsWith('run-') ? f._id.slice(4) : null);
  if (runId) {
    const run = await store.col.runs.findOne({ _id: runId }, { projection: { state: 1, file: 1 } });
    if (run && !isTerminal(run.state)) return false;
    if (run?.file?.id === f._id && !run.file.purgedAt) {
      if (!(await markReportFilePurged(store, runId, f._id, now))) return false; // revived between the read and the mark
    }
  }
  if (f.metadata?.reportId) {
    await store.col.reports.updateOne(
      { _id: `${connectorId}:${f.metadata.reportId}`, fileId: f._id },
      { $set: { fileId: null, filePurgedAt: now } },
    );
  }
  await deleteReportFile(store, f._id);
  return true;
}
