/**
 * `parsePosture(source)`: the streaming API. Reads a posture answer from any async iterable of bytes,
 * stages its rows (they come before the glossary that names their hosts and controls), then yields
 * arrays of records: policy, host, finding and rejected records, and the summary, always last, with the
 * paging warning. A refused answer throws a ReportError before any record is yielded.
 */
import { PostureParser, type PostureLimits } from './posture-parser.ts';
import type { PostureRecord, PostureSummaryRecord } from './records.ts';
import { Resolver, type ResolveOptions } from './resolve.ts';
import { TempFileStage, type RowStage } from './row-stage.ts';

export interface ParsePostureOptions extends PostureLimits, ResolveOptions {
  /** records per yielded batch (default 500); the last batch may be shorter */
  batchSize?: number;
  /** where rows wait for the glossary (default: a temporary file under `tmpDir`, removed at the end) */
  stage?: RowStage;
  /** parent folder of the default stage's temporary folder (default: the OS temp folder) */
  tmpDir?: string;
}

/** chunks are fed in slices of at most this size, so that decoded strings stay small and die young */
const SLICE_BYTES = 64 * 1024;

export async function* parsePosture(
  source: AsyncIterable<Uint8Array | string>,
  opts: ParsePostureOptions = {},
): AsyncGenerator<PostureRecord[], void, undefined> {
  const batchSize = Math.max(1, opts.batchSize ?? 500);
  const stage = opts.stage ?? new TempFileStage(opts.tmpDir);
  try {
    const p = new PostureParser((row) => stage.add(row), opts);
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      for (let off = 0; off < bytes.length; off += SLICE_BYTES) {
        p.write(off === 0 && bytes.length <= SLICE_BYTES ? bytes : bytes.subarray(off, off + SLICE_BYTES));
        if (stage.full) await stage.flush();
      }
    }
    p.end();
    const r = new Resolver(p.glossary, opts);
    let out: PostureRecord[] = [];
    for await (const row of stage.rows()) {
      r.resolve(row, out);
      if (out.length >= batchSize) {
        yield out;
        out = [];
      }
    }
    const summary: PostureSummaryRecord = {
      type: 'summary',
      ...r.n,
      bytes: p.bytes,
      invalidUtf8: p.invalidUtf8,
      rows: p.rows,
      paging: p.warning,
    };
    out.push(summary);
    for (let i = 0; i < out.length; i += batchSize) yield out.slice(i, i + batchSize);
  } finally {
    await stage.close();
  }
}

/** Every record of an answer in one array: for tests and small answers only. */
export async function parsePostureToArray(source: AsyncIterable<Uint8Array | string>, opts: ParsePostureOptions = {}): Promise<PostureRecord[]> {
  const all: PostureRecord[] = [];
  for await (const batch of parsePosture(source, opts)) all.push(...batch);
  return all;
}
