/**
 * The records of a posture run: each stored page parsed by @qpc/pc-posture in order, as one stream of
 * the same host and finding records a report gives, ending with one summary for the whole answer. The
 * pages must chain: each page's paging WARNING names the id_min the next stored page was asked with (the
 * last page of a policy group names none), and the download must have reached its last page; otherwise
 * the records read are still written but the parse is incomplete (the run closes nothing).
 */
import { parsePosture, type PostureRecord } from '@qpc/pc-posture';
import type { SummaryRecord } from '@qpc/pc-report';
import type { RunPosture } from '@qpc/store/db';

/** A posture answer whose pages do not make one whole answer. */
export class PostureIncompleteError extends Error {
  override name = 'PostureIncompleteError';
  constructor(
    readonly code: 'POSTURE_PAGING_MISMATCH' | 'POSTURE_DOWNLOAD_INCOMPLETE',
    message: string,
  ) {
    super(message);
  }
}

export interface PostureSummary extends SummaryRecord {
  pages: number;
  /** the newest EVALUATION_DATE read (ISO), null when none */
  dataAsOf: string | null;
}

export async function* postureRecords(
  posture: RunPosture,
  read: (fileId: string) => AsyncIterable<Buffer>,
  opts: { batchSize?: number } = {},
): AsyncGenerator<PostureRecord[] | [PostureSummary]> {
  const total: PostureSummary = { type: 'summary', hosts: 0, findings: 0, passed: 0, failed: 0, error: 0, rejected: 0, policies: 0, bytes: 0, invalidUtf8: 0, pages: 0, dataAsOf: null };
  const hosts = new Set<string>();
  const policies = new Set<string>();
  let newest = -Infinity;
  const { pages } = posture;
  for (const [i, page] of pages.entries()) {
    let nextIdMin: string | null = null;
    let last = false;
    for await (const batch of parsePosture(read(page.id), { policyTitles: posture.titles, batchSize: opts.batchSize ?? 500 })) {
      const out: PostureRecord[] = [];
      for (const rec of batch) {
        if (rec.type === 'summary') {
          last = true;
          nextIdMin = rec.paging?.nextIdMin ?? null;
          total.findings += rec.findings;
          total.passed += rec.passed;
          total.failed += rec.failed;
          total.error += rec.error;
          total.rejected += rec.rejected;
          total.bytes += rec.bytes;
          total.invalidUtf8 += rec.invalidUtf8;
          continue;
        }
        if (rec.type === 'host') hosts.add(`${rec.hostKey}|${rec.policyId}`);
        else if (rec.type === 'policy') policies.add(rec.policyId);
        else if (rec.type === 'finding' && rec.evaluationDate) {
          const at = Date.parse(rec.evaluationDate);
          if (at > newest) newest = at;
        }
        out.push(rec);
      }
      if (out.length) yield out;
    }
    total.pages++;
    if (!last) throw new PostureIncompleteError('POSTURE_PAGING_MISMATCH', `posture page ${i + 1} ended without its summary`);
    const following = pages[i + 1];
    const expected = following && following.idMin !== null ? following.idMin : null;
    if (nextIdMin !== expected && !(following === undefined && posture.next !== null)) {
      throw new PostureIncompleteError(
        'POSTURE_PAGING_MISMATCH',
        `posture page ${i + 1} says the next page starts at id_min ${nextIdMin ?? '(none: last page)'}, but the page stored next was asked with ${expected ?? '(a new policy group)'}`,
      );
    }
  }
  if (posture.next !== null || !posture.complete) {
    throw new PostureIncompleteError('POSTURE_DOWNLOAD_INCOMPLETE', `the posture download stopped after ${pages.length} page(s): what they hold was written, nothing is closed`);
  }
  total.hosts = hosts.size;
  total.policies = policies.size;
  total.dataAsOf = Number.isFinite(newest) ? new Date(newest).toISOString() : null;
  yield [total];
}
