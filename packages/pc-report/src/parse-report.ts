/**
 * `parseReport(source)`: the streaming API. Reads Buffer chunks from any async iterable (a file stream,
 * an HTTP body), yields arrays of records. It does not pull the next chunk while a full batch waits for
 * its consumer, so memory stays flat whatever the size of the report. A refused report throws a
 * ReportError (records already yielded must then be discarded by the caller: nothing is final until the
 * summary record, which is always last).
 */
import { ReportParser, type ParserOptions } from './report-parser.ts';
import type { ReportRecord } from './records.ts';

export interface ParseReportOptions extends ParserOptions {
  /** records per yielded batch (default 500); the last batch may be shorter */
  batchSize?: number;
}

/**
 * Chunks are fed in slices of at most this size: one chunk cannot produce an unbounded burst of records,
 * and the decoded strings stay small enough to be allocated (and die) in V8's young generation.
 */
const SLICE_BYTES = 64 * 1024;

export async function* parseReport(
  source: AsyncIterable<Uint8Array | string>,
  opts: ParseReportOptions = {},
): AsyncGenerator<ReportRecord[], void, undefined> {
  const batchSize = Math.max(1, opts.batchSize ?? 500);
  const p = new ReportParser(opts);
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    for (let off = 0; off < bytes.length; off += SLICE_BYTES) {
      p.write(off === 0 && bytes.length <= SLICE_BYTES ? bytes : bytes.subarray(off, off + SLICE_BYTES));
      if (p.out.length >= batchSize) yield* drain(p, batchSize, false);
    }
  }
  p.end();
  yield* drain(p, batchSize, true);
}

function* drain(p: ReportParser, batchSize: number, all: boolean): Generator<ReportRecord[]> {
  const out = p.out;
  let i = 0;
  while (out.length - i >= batchSize || (all && i < out.length)) {
    yield out.slice(i, i + batchSize);
    i += batchSize;
  }
  out.splice(0, Math.min(i, out.length));
}

/** Every record of a report in one array: for tests and small files only. */
export async function parseReportToArray(source: AsyncIterable<Uint8Array | string>, opts: ParseReportOptions = {}): Promise<ReportRecord[]> {
  const all: ReportRecord[] = [];
  for await (const batch of parseReport(source, opts)) all.push(...batch);
  return all;
}
