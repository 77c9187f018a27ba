/**
 * Report files in GridFS. A download is streamed into the bucket while its length and SHA-256 are
 * computed; it is kept only if whole (the expected length and checksum, when known, match).
 * The file id is derived from the run, and leftovers of an interrupted upload are removed first, so a
 * retried fetch never leaves two files or orphan chunks.
 */
import { ONE_BATCH } from './one-batch.ts';
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Store } from './store.ts';
import { REPORT_BUCKET } from './documents.ts';
import { StoreError } from './errors.ts';

export interface StoredFile {
  id: string;
  length: number;
  sha256: string;
}

export function reportFileId(runId: string): string {
  return `run-${runId}`;
}

/**
 * Chunks first, then the file document: a removal cut half-way leaves a file document that the next
 * removal (or retention sweep, which lists file documents) finds again, never chunks nothing lists.
 */
export async function deleteReportFile(store: Store, id: string): Promise<void> {
  await store.db.collection(`${REPORT_BUCKET}.chunks`).deleteMany({ files_id: id });
  await store.db.collection(`${REPORT_BUCKET}.files`).deleteMany({ _id: id as never });
}

export async function saveReportFile(
  store: Store,
  id: string,
  body: Readable,
  opts: { expectedLength?: number | undefined; expectedSha256?: string | undefined; onProgress?: (bytes: number) => void; metadata?: Record<string, unknown> } = {},
): Promise<StoredFile> {
  await deleteReportFile(store, id);
  const hash = createHash('sha256');
  let length = 0;
  let lastReport = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      length += chunk.length;
      if (opts.onProgress && length - lastReport >= 1 << 20) {
        lastReport = length;
        opts.onProgress(length);
      }
      cb(null, chunk);
    },
  });
  const upload = store.bucket.openUploadStreamWithId(id as never, id, { metadata: opts.metadata ?? {}, chunkSizeBytes: 255 * 1024 });
  try {
    await pipeline(body, meter, upload);
  } catch (err) {
    await deleteReportFile(store, id).catch(() => undefined);
    throw err;
  }
  const sha256 = hash.digest('hex');
  opts.onProgress?.(length);
  const mismatch =
    (opts.expectedLength !== undefined && opts.expectedLength !== length) ||
    (opts.expectedSha256 !== undefined && opts.expectedSha256 !== sha256);
  if (mismatch) {
    await deleteReportFile(store, id);
    throw new StoreError(
      'REPORT_FILE_MISMATCH',
      `downloaded report is not whole: ${length} bytes (expected ${opts.expectedLength ?? '?'}), sha256 ${sha256.slice(0, 12)}`,
      true,
    );
  }
  return { id, length, sha256 };
}

/** Is the stored file still there with this length? (A retried fetch after a crash skips the download.) */
export async function hasReportFile(store: Store, id: string, length: number): Promise<boolean> {
  const f = await store.db.collection(`${REPORT_BUCKET}.files`).findOne({ _id: id as never });
  return f !== null && f.length === length;
}

/**
 * May the fetch stage skip the download? Only when the run's file is recorded, was not removed by
 * report retention, and is still stored whole. A run whose file was purged (a failed run retried, or
 * any later run of the same report: file ids are per run) downloads the report again.
 */
export async function usableReportFile(store: Store, file: { id: string; length: number; purgedAt?: Date | null } | null): Promise<boolean> {
  if (!file || file.purgedAt) return false;
  return hasReportFile(store, file.id, file.length);
}

/**
 * Read a stored file chunk by chunk, a few chunks per query, each query drained at once. Unlike
 * GridFS's download stream this holds no server cursor open while the consumer waits (the parser's
 * backpressure can wait minutes): FerretDB's SQLite backend blocks other work on a database while a
 * cursor on it stays open.
 */
export async function* readReportFile(store: Store, id: string, chunksPerRead = 8): AsyncGenerator<Buffer> {
  const chunks = store.db.collection<{ files_id: string; n: number; data: { buffer: Uint8Array } }>(`${REPORT_BUCKET}.chunks`);
  const file = await store.db.collection(`${REPORT_BUCKET}.files`).findOne({ _id: id as never });
  if (!file) throw new StoreError('REPORT_FILE_MISSING', `report file ${id} is not stored`, true);
  const total = Math.ceil(Number(file.length) / Number(file.chunkSize));
  for (let n = 0; n < total; n += chunksPerRead) {
    const page = await chunks
      .find({ files_id: id, n: { $gte: n, $lt: n + chunksPerRead } }, { batchSize: ONE_BATCH })
      .sort({ n: 1 })
      .toArray();
    if (page.length !== Math.min(chunksPerRead, total - n)) {
      throw new StoreError('REPORT_FILE_MISSING', `report file ${id}: chunks ${n}.. missing`, true);
    }
    for (const c of page) yield Buffer.from(c.data.buffer);
  }
}

export function openReportFile(store: Store, id: string): Readable {
  return store.bucket.openDownloadStream(id as never);
}
