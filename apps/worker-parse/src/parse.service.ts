/**
 * Stream a stored report from GridFS through the parser and stage write batches.
 *
 * What an upsert job carries: only (runId, seq). The batch itself (up to QPC_BATCH_SIZE findings plus
 * the host records of their hosts) is staged as ONE MongoDB document: carrying ~500 KB of findings per
 * job through Redis costs as much as parsing them (architecture.md), and Redis would then hold every
 * queued batch. Staged in MongoDB it is one extra insert per batch on the database written anyway.
 *
 * Backpressure: before staging batch n the parser waits until fewer than QPC_MAX_PENDING_BATCHES
 * batches are staged and not yet written; the GridFS stream is not read meanwhile. So memory here is
 * one parser batch + one write batch + the host records of the report (needed to attach a host to
 * findings that follow it in another batch; ~0.5 KB per host x policy) and one host-key decision per
 * IP-only host (createHostKeyResolver: such a record of a host the network knows by its Qualys host id
 * takes that host's key, in every batch, for the host and its findings), and Redis holds at most
 * QPC_MAX_PENDING_BATCHES small upsert jobs per run in flight.
 *
 * Idempotent: a re-run (after a crash) re-reads the file from the start and produces the same batches
 * with the same seq; batches already staged are kept as they are (written or not), their upsert jobs are
 * enqueued again and the job ids dedupe.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { parseReport, ReportError, type FindingRecord, type HeaderRecord, type HostRecord, type ReportRecord, type SummaryRecord } from '@qpc/pc-report';
import type { PostureRecord } from '@qpc/pc-posture';
import { postureRecords, PostureIncompleteError, type PostureSummary } from './posture-records.ts';
import type { Store } from '@qpc/store/db';
import { claimStage, completeStage, finalizeIfReady, pendingBatches, setProgress, setWaiting, stageBatch, stagedSeqs } from '@qpc/store/pipeline';
import { carryReportOnlyFields, createHostKeyResolver, networkHasReportFields } from '@qpc/store/inventory';
import { readReportFile } from '@qpc/store/files';
import type { Enqueuer } from '@qpc/jobs';
import type { Logger } from '@qpc/worker-kit';

export interface ParseDeps {
  store: Store;
  /** its upsert and finalize jobs (the enqueuer names their ids) */
  enqueue: Pick<Enqueuer, 'upsert' | 'finalize'>;
  logger: Logger;
  batchSize: number;
  maxPending: number;
  progress?: (p: Record<string, number>) => Promise<void>;
  /** how often the backpressure wait polls (ms) */
  pollMs?: number;
  /** most host records (host x policy) one report may have here; default: hostRecordLimit() */
  maxHostRecords?: number;
}

/** Heap a kept host record costs, with its map entry (~800 bytes measured on 100,000 records), rounded up. */
const HOST_RECORD_BYTES = 1024;

/**
 * How many host records (one per host and policy, kept for the whole report) fit in half of this
 * process's V8 heap limit (--max-old-space-size): 192 MB, the apps' default, gives ~100,000. Past it the
 * report is refused with a clear error rather than the worker dying out of memory in every retry.
 */
export function hostRecordLimit(): number {
  return Math.floor((getHeapStatistics().heap_size_limit * 0.5) / HOST_RECORD_BYTES);
}

/** A report with more host records than this worker's heap may keep (see hostRecordLimit). */
export class HostRecordLimitError extends Error {
  override name = 'HostRecordLimitError';
  readonly code = 'TOO_MANY_HOST_RECORDS';
}

export type ParseResult = { outcome: 'done' | 'skipped'; batches?: number; findings?: number; error?: string; reason?: string };

/**
 * Backpressure: wait until fewer than maxPending staged batches are unwritten, looking again after pollMs,
 * doubling up to 1 s (each look is a count over the staged batches). While it waits the run says so
 * (progress.waiting, with the count when it changes): a parse blocked for minutes looked merely slow.
 */
async function waitForWriters(store: Store, runId: string, maxPending: number, pollMs: number): Promise<void> {
  let pending = await pendingBatches(store, runId);
  if (pending < maxPending) return;
  const since = new Date();
  let shown = -1;
  for (let wait = pollMs; pending >= maxPending; wait = Math.min(wait * 2, Math.max(pollMs, 1000))) {
    if (pending !== shown) {
      await setWaiting(store, runId, { reason: 'batches', pending, since });
      shown = pending;
    }
    await sleep(wait);
    pending = await pendingBatches(store, runId);
  }
  await setWaiting(store, runId, null);
}

/**
 * The newest assessment date a Policy Report carries: its header's generation date (GENERATION_DATETIME),
 * as ISO 8601 UTC; null when the header has none or it is not a date.
 */
export function reportDataAsOf(header: Pick<HeaderRecord, 'generatedAt'> | null): string | null {
  const v = header?.generatedAt;
  if (!v) return null;
  const at = new Date(v);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

export async function parseRun(deps: ParseDeps, runId: string): Promise<ParseResult> {
  const { store } = deps;
  // claim: a parsing (or retried) run is read from its stored report; one an earlier attempt handed on is
  // handed to finalize again (finalizeIfReady: once its batches are written)
  const claim = await claimStage(store, runId, 'parse');
  if (claim.status === 'handed-off') {
    // a re-run after a crash past the hand-off: make sure finalize is not forgotten
    await finalizeIfReady(store, runId, deps.enqueue.finalize);
    return { outcome: 'skipped', reason: `run is ${claim.run.state}` };
  }
  if (claim.status === 'skipped') return { outcome: 'skipped', reason: claim.reason };
  const { run } = claim;
  if (!run.file && !run.posture) throw new Error(`run ${runId} has no stored report file`);
  const { connectorId, network } = run;

  let bytes = 0;
  let lastProgress = 0;
  async function* counted(fileId: string): AsyncGenerator<Buffer> {
    for await (const chunk of readReportFile(store, fileId)) {
      bytes += chunk.length;
      yield chunk;
    }
  }

  const hostsSeen = new Map<string, HostRecord>(); // `${hostKey}|${policyId}` -> record
  let newHosts: HostRecord[] = [];
  let findings: FindingRecord[] = [];
  let seq = 0;
  let summary: SummaryRecord | PostureSummary | null = null;
  let header: HeaderRecord | null = null;
  const rejected = new Map<string, number>();
  const pollMs = deps.pollMs ?? 100;
  const maxHostRecords = deps.maxHostRecords ?? hostRecordLimit();
  // IP-only records of hosts the network knows by host id take that host's key (decided once per IP)
  const hostKeys = createHostKeyResolver(store, network);
  // batches an earlier attempt staged (see stagedSeqs): staged again as no-ops, without waiting, and their
  // upsert jobs enqueued again (the job ids dedupe)
  const staged = await stagedSeqs(store, runId);
  // a posture run into a network a report fed keeps the fields only reports carry (carry-fields.ts)
  const carry = run.posture ? await networkHasReportFields(store, network) : false;

  const flush = async () => {
    if (findings.length === 0 && newHosts.length === 0) return;
    const hosts = new Map<string, HostRecord>();
    for (const h of newHosts) hosts.set(`${h.hostKey}|${h.policyId}`, h);
    for (const f of findings) {
      const k = `${f.hostKey}|${f.policyId}`;
      const h = hostsSeen.get(k);
      if (h) hosts.set(k, h);
    }
    const keyed = await hostKeys.rekey([...hosts.values()], findings);
    // a posture run into a network a report fed keeps the fields only reports carry (carry-fields.ts)
    if (carry) await carryReportOnlyFields(store, network, keyed.hosts, keyed.findings);
    if (!staged.has(seq)) {
      await waitForWriters(store, runId, deps.maxPending, pollMs);
      await stageBatch(store, runId, seq, keyed.hosts, keyed.findings);
    }
    await deps.enqueue.upsert(runId, connectorId, seq);
    seq++;
    newHosts = [];
    findings = [];
    const now = Date.now();
    if (now - lastProgress > 500) {
      lastProgress = now;
      await setProgress(store, runId, { bytesParsed: bytes });
      await deps.progress?.({ bytesParsed: bytes, batches: seq });
    }
  };

  // a report, or the stored pages of a posture answer: the same records either way
  const source: AsyncIterable<ReadonlyArray<ReportRecord | PostureRecord>> = run.posture
    ? postureRecords(run.posture, counted, { batchSize: 500 })
    : parseReport(counted((run.file as { id: string }).id), { batchSize: 500 });
  let parseError: ReportError | HostRecordLimitError | PostureIncompleteError | null = null;
  try {
    for await (const batch of source) {
      for (const rec of batch) {
        switch (rec.type) {
          case 'host':
            if (hostsSeen.size >= maxHostRecords && !hostsSeen.has(`${rec.hostKey}|${rec.policyId}`)) {
              const heapMb = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
              throw new HostRecordLimitError(
                `the report has more than ${maxHostRecords} host records (host x policy), the most this parse worker keeps with a ${heapMb} MB heap; ` +
                  'give worker-parse a larger heap (a later --max-old-space-size wins, about 2 MB more per 1,000 host records) and retry the run',
              );
            }
            // kept for the whole report, so kept as a copy: the parser's strings can be slices of the
            // chunk they were read from, and holding one would hold its whole chunk
            hostsSeen.set(`${rec.hostKey}|${rec.policyId}`, structuredClone(rec));
            newHosts.push(rec);
            break;
          case 'finding':
            findings.push(rec);
            if (findings.length >= deps.batchSize) await flush();
            break;
          case 'rejected':
            rejected.set(rec.reason, (rejected.get(rec.reason) ?? 0) + 1);
            break;
          case 'summary':
            summary = rec;
            break;
          case 'header':
            header = rec;
            break;
          default:
            break;
        }
      }
    }
  } catch (err) {
    // a refused report (cut, malformed, too many hosts for this worker): what was read is written, the
    // run closes nothing
    if (!(err instanceof ReportError || err instanceof HostRecordLimitError || err instanceof PostureIncompleteError)) throw err;
    parseError = err;
  }
  await flush();
  const s = summary as SummaryRecord | PostureSummary | null;
  const parse = {
    complete: parseError === null && s !== null,
    batches: seq,
    summary: s
      ? {
          hosts: s.hosts,
          findings: s.findings,
          passed: s.passed,
          failed: s.failed,
          error: s.error,
          rejected: s.rejected,
          policies: s.policies,
          bytes: s.bytes,
          invalidUtf8: s.invalidUtf8,
          // posture: the newest EVALUATION_DATE read and its pages; a report: its generation date
          ...('dataAsOf' in s ? { dataAsOf: s.dataAsOf, pages: s.pages } : { dataAsOf: reportDataAsOf(header) }),
        }
      : null,
  };
  await setProgress(store, runId, { bytesParsed: bytes });
  const set: Record<string, unknown> = {
    parse,
    rejected: [...rejected].map(([reason, count]) => ({ reason, count })),
    'progress.waiting': null,
    'counts.hostsParsed': s?.hosts ?? hostsSeen.size,
    'counts.findingsParsed': s?.findings ?? 0,
    'counts.recordsRejected': s?.rejected ?? [...rejected.values()].reduce((a, b) => a + b, 0),
  };
  // a posture download that stopped early recorded its own error (fetch stage): kept
  if (parseError && !(parseError instanceof PostureIncompleteError && parseError.code === 'POSTURE_DOWNLOAD_INCOMPLETE' && run.error)) set.error = { class: `${parseError.name}:${parseError.code}`, message: parseError.message.slice(0, 2000), stage: 'parse', at: new Date() };
  // hand off: the run moves to writing; finalize follows its last batch
  await completeStage(store, runId, 'parse', { set });
  await finalizeIfReady(store, runId, deps.enqueue.finalize);
  deps.logger.info({ runId, batches: seq, findings: s?.findings, error: parseError?.code }, 'report parsed');
  return { outcome: 'done', batches: seq, findings: s?.findings ?? 0, ...(parseError ? { error: parseError.code } : {}) };
}
