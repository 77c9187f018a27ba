/**
 * Download one report into GridFS, streaming, and check it is whole: the stored length equals the
 * announced Content-Length, and the SHA-256 computed while storing equals the one the client computed
 * over the bytes it received (across resumes). Only then does the run move on to parsing.
 *
 * File ids derive from the run, so a re-ingest (a new run) always downloads; a failed run fetched
 * again reuses its stored file unless report retention removed it meanwhile (QPC_REPORT_RETENTION).
 */
import type { QualysClient } from '@qpc/qualys-client';
import type { SecretBox } from '@qpc/secrets';
import { StoreError, type Store } from '@qpc/store/db';
import { connectorCredentials, getConnector } from '@qpc/store/connectors';
import { addQualysStats, claimStage, completeStage, recordReportFile, setProgress } from '@qpc/store/pipeline';
import { reportFileId, saveReportFile, usableReportFile } from '@qpc/store/files';
import type { Enqueuer } from '@qpc/jobs';
import type { Logger } from '@qpc/worker-kit';
import { fetchPosturePages } from './posture-fetch.ts';

export interface FetchDeps {
  store: Store;
  box: SecretBox;
  qualys: (creds: { url: string; username: string; password: string }) => QualysClient;
  enqueue: Pick<Enqueuer, 'parse'>;
  logger: Logger;
  progress?: (p: Record<string, number>) => Promise<void>;
  /** rows per posture page (truncation_limit); absent: the API's default */
  postureTruncationLimit?: number;
}

export type FetchResult = { outcome: 'done' | 'skipped'; bytes?: number; reason?: string };

export async function fetchRun(deps: FetchDeps, runId: string): Promise<FetchResult> {
  const { store } = deps;
  // claim: a queued (or retried) run moves to fetching; one an earlier attempt stored is handed to parse again
  const claim = await claimStage(store, runId, 'fetch');
  if (claim.status === 'handed-off') {
    // an earlier attempt stored the report and moved the run on, then failed before (or while)
    // handing it to parse: make sure the parse job exists (its id dedupes)
    await deps.enqueue.parse(runId, claim.run.connectorId, claim.run.resumes);
    return { outcome: 'done', reason: 'stored already; handed to parse' };
  }
  if (claim.status === 'skipped') return { outcome: 'skipped', reason: claim.reason };
  const { run } = claim;
  // a posture pull: its pages, not a report file
  if (run.posture) return fetchPosturePages(deps, run);
  if (!run.reportId) return { outcome: 'skipped', reason: 'run has no report' };

  // work: download into GridFS
  const fileId = reportFileId(runId);
  let file = run.file;
  // stored whole by an earlier attempt: no download; missing, cut, or removed by report retention: download
  if (!file || !(await usableReportFile(store, file))) {
    const connector = await getConnector(store, run.connectorId);
    const client = deps.qualys(connectorCredentials(connector, deps.box));
    try {
      const dl = await client.fetchReport(run.reportId);
      // the size the download announces: the run's progress shows bytes of it before the file is stored
      if (dl.contentLength !== undefined) await setProgress(store, runId, { bytesAnnounced: dl.contentLength });
      let lastProgress = 0;
      // progress writes are not awaited by the download, but awaited before the run's next update: FerretDB
      // applies an update as read-modify-write of the whole document, so a progress write still in flight
      // would wipe the `file` set below (the parse stage then finds no stored report file)
      let progressWrite: Promise<unknown> = Promise.resolve();
      const stored = await saveReportFile(store, fileId, dl.body, {
        metadata: { runId, reportId: run.reportId, connectorId: run.connectorId },
        onProgress: (bytes) => {
          const now = Date.now();
          if (now - lastProgress < 500) return;
          lastProgress = now;
          progressWrite = progressWrite.then(() => setProgress(store, runId, { bytesDownloaded: bytes })).catch(() => undefined);
          void deps.progress?.({ bytesDownloaded: bytes }).catch(() => undefined);
        },
      }).finally(() => progressWrite);
      const announced = dl.contentLength;
      if ((announced !== undefined && announced !== stored.length) || (dl.progress.sha256 !== undefined && dl.progress.sha256 !== stored.sha256)) {
        throw new StoreError(
          'REPORT_FILE_MISMATCH',
          `stored report differs from the download: ${stored.length} bytes stored, ${announced ?? '?'} announced`,
          true,
        );
      }
      file = { ...stored, etag: dl.etag ?? null };
      await recordReportFile(store, runId, file);
    } finally {
      const s = client.stats();
      await addQualysStats(store, runId, { calls: s.calls, conflicts409: s.conflicts409, waitedSec: s.waitedSec + s.slotWaitSec });
      await client.close();
    }
  }
  // hand off: the run moves to parsing, then the parse job
  const next = await completeStage(store, runId, 'fetch');
  if (next) await deps.enqueue.parse(runId, next.connectorId, next.resumes);
  deps.logger.info({ runId, bytes: file.length, sha256: file.sha256 }, 'report stored');
  return { outcome: 'done', bytes: file.length };
}
