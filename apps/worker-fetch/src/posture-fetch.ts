/**
 * The download of a posture run: every page of every policy group, each stored in GridFS as a report
 * file is (streamed, length and SHA-256 checked), in order. A page's answer ends with a WARNING (CODE
 * 1980) whose URL carries the next page's `id_min`: read from the last bytes of the page as they pass
 * (the parse checks it again against the whole page). The run records each page as it is stored and
 * where the next one starts, so a retried job goes on from the page that failed. A download that
 * fails for good after at least one page leaves the run to ingest what it stored and close nothing
 * (postureFetchFinalFailure).
 */
import { Readable } from 'node:stream';
import { policyGroups } from '@qpc/domain';
import { idMinOf } from '@qpc/pc-posture';
import { StoreError, type RunDoc, type RunPosture, type Store } from '@qpc/store/db';
import { connectorCredentials, getConnector } from '@qpc/store/connectors';
import { addPosturePage, addQualysStats, advanceRun, completeStage, endStage, getRun, markPostureIncomplete, setProgress } from '@qpc/store/pipeline';
import { reportFileId, saveReportFile, usableReportFile } from '@qpc/store/files';
import type { Enqueuer } from '@qpc/jobs';
import type { FetchDeps, FetchResult } from './fetch.service.ts';

/** the id of page `n` of a run's posture answer */
export function posturePageId(runId: string, n: number): string {
  return `${reportFileId(runId)}-p${n}`;
}

const TAIL_BYTES = 64 * 1024;

/** The bytes pass through unchanged; the last TAIL_BYTES are kept (the WARNING is the answer's last element). */
function withTail(body: Readable): { stream: Readable; tail: () => string } {
  let chunks: Buffer[] = [];
  let kept = 0;
  async function* pass(): AsyncGenerator<Buffer> {
    for await (const c of body as AsyncIterable<Buffer>) {
      chunks.push(c);
      kept += c.length;
      while (chunks.length > 1 && kept - chunks[0]!.length >= TAIL_BYTES) kept -= chunks.shift()!.length;
      yield c;
    }
  }
  return {
    stream: Readable.from(pass(), { objectMode: false }),
    tail: () => {
      const s = Buffer.concat(chunks).subarray(-TAIL_BYTES).toString('utf8');
      chunks = [];
      return s;
    },
  };
}

const decodeXml = (s: string) =>
  s
    .replace(/^\s*<!\[CDATA\[([\s\S]*)\]\]>\s*$/, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();

/**
 * The next page's id_min from the end of an answer: null when its last element is not a paging WARNING.
 * A paging WARNING whose URL carries no id_min cannot be followed: an error, not a silent last page.
 */
export function nextIdMinOfTail(tail: string): string | null {
  const at = tail.lastIndexOf('<WARNING>');
  if (at === -1) return null;
  const w = tail.slice(at);
  if (!/<\/WARNING>\s*<\/RESPONSE>\s*<\/POSTURE_INFO_LIST_OUTPUT>\s*$/.test(w)) return null;
  const code = /<CODE>([\s\S]*?)<\/CODE>/.exec(w)?.[1]?.trim();
  const url = /<URL>([\s\S]*?)<\/URL>/.exec(w)?.[1];
  if (code !== '1980') return null;
  const idMin = url ? idMinOf(decodeXml(url)) : null;
  if (!idMin || !/^\d+$/.test(idMin))
    throw new StoreError('POSTURE_PAGING_UNREADABLE', 'a posture page says more rows follow (WARNING 1980) but its URL carries no usable id_min', false);
  return idMin;
}

export async function fetchPosturePages(deps: FetchDeps & { postureTruncationLimit?: number }, run: RunDoc): Promise<FetchResult> {
  const { store } = deps;
  const runId = run._id;
  const p = run.posture!;
  let pages = p.pages;
  let next = p.next;
  const groups = policyGroups(p.policyIds);
  let bytes = pages.reduce((s, pg) => s + pg.length, 0);
  // a stored page whose file is gone (retention, a crash between the two writes): fetched again from there
  for (const [i, pg] of pages.entries()) {
    if (!(await usableReportFile(store, pg))) {
      throw new StoreError('POSTURE_PAGE_MISSING', `run ${runId}: stored posture page ${i + 1} is missing; sync again`, false);
    }
  }
  if (next) {
    const connector = await getConnector(store, run.connectorId);
    const client = deps.qualys(connectorCredentials(connector, deps.box));
    try {
      while (next) {
        const group = groups[next.group];
        if (!group) throw new StoreError('POSTURE_PLAN_INVALID', `run ${runId}: no policy group ${next.group}`, false);
        const n = pages.length;
        const fileId = posturePageId(runId, n);
        const dl = await client.fetchPosture({
          version: p.apiVersion,
          policyIds: group,
          idMin: next.idMin,
          statusChangesSince: p.kind === 'incremental' ? p.since : null,
          ...(deps.postureTruncationLimit ? { truncationLimit: deps.postureTruncationLimit } : {}),
        });
        const t = withTail(dl.body);
        const before = bytes;
        // progress writes are chained and awaited before the page is recorded: FerretDB applies an update
        // as a read-modify-write of the whole document, so one still in flight could undo the record
        let progressWrite: Promise<unknown> = Promise.resolve();
        const stored = await saveReportFile(store, fileId, t.stream, {
          metadata: { runId, reportId: `posture:${runId}`, connectorId: run.connectorId, page: n },
          onProgress: (b) => {
            progressWrite = progressWrite.then(() => setProgress(store, runId, { bytesDownloaded: before + b })).catch(() => undefined);
          },
        }).finally(() => progressWrite);
        if ((dl.contentLength !== undefined && dl.contentLength !== stored.length) || (dl.progress.sha256 !== undefined && dl.progress.sha256 !== stored.sha256)) {
          throw new StoreError('REPORT_FILE_MISMATCH', `stored posture page differs from the download: ${stored.length} bytes stored, ${dl.contentLength ?? '?'} announced`, true);
        }
        const idMin = nextIdMinOfTail(t.tail());
        const after: RunPosture['next'] = idMin ? { group: next.group, idMin } : next.group + 1 < groups.length ? { group: next.group + 1, idMin: null } : null;
        const page = { id: fileId, length: stored.length, sha256: stored.sha256, policyIds: group, idMin: next.idMin };
        bytes += stored.length;
        await addPosturePage(store, runId, page, after, bytes);
        pages = [...pages, page];
        next = after;
        void deps.progress?.({ bytesDownloaded: bytes, pages: pages.length }).catch(() => undefined);
      }
    } finally {
      const s = client.stats();
      await addQualysStats(store, runId, { calls: s.calls, conflicts409: s.conflicts409, waitedSec: s.waitedSec + s.slotWaitSec });
      await client.close();
    }
  }
  // hand off: the run moves to parsing, then the parse job is enqueued (a crash between: the retry's claim re-enqueues it)
  const moved = await completeStage(store, runId, 'fetch');
  if (moved) await deps.enqueue.parse(runId, moved.connectorId, moved.resumes);
  deps.logger.info({ runId, pages: pages.length, bytes, kind: p.kind }, 'posture pages stored');
  return { outcome: 'done', bytes };
}

/**
 * A posture download that failed for good: with at least one page stored, the run goes on to parse
 * what it has, marked incomplete (it ends partial and closes nothing); with none, false (the run fails
 * as a report download does).
 */
export async function postureFetchFinalFailure(store: Store, enqueue: Pick<Enqueuer, 'parse'>, runId: string, err: Error & { code?: unknown }): Promise<boolean> {
  const run = await getRun(store, runId);
  if (!run.posture || run.posture.pages.length === 0) return false;
  if (run.state !== 'fetching' && run.state !== 'queued') return run.state === 'parsing';
  await markPostureIncomplete(store, runId, { class: [err.name, err.code].filter((x) => x !== undefined).join(':'), message: err.message, stage: 'fetch' });
  await endStage(store, runId, 'fetch');
  const moved = await advanceRun(store, runId, ['fetching', 'queued'], 'parsing', { stage: 'parse' });
  if (moved) await enqueue.parse(runId, moved.connectorId, moved.resumes);
  return true;
}
