/**
 * Report files in GridFS. A download is streamed into the bucket while its length and SHA-256 are
 * computed; it is kept only if whole (the expected length and checksum, when known, match).
 * The file id is derived from the run, and leftovers of an interrupted upload are removed first, so a
 * retried fetch never leaves two files or orphan chunks.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Store } from '../db/store.ts';
import { REPORT_BUCKET } from '../db/documents.ts';
import { StoreError } from '../db/errors.ts';

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
  let lastReportAt = Date.now();
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      length += chunk.length;
      // every MiB, or every 64 KiB once a quarter second has passed (a slow link's progress moves too)
      const sinceBytes = length - lastReport;
      if (opts.onProgress && (sinceBytes >= 1 << 20 || (sinceBytes >= 64 << 10 && Date.now() - lastReportAt >= 250))) {
        lastReport = length;
        lastReportAt = Date.now();
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
 * Read a stored file: its chunks are first copied to a local temporary file with ONE query (each chunk
 * written at its own offset, so their order does not matter and nothing is sorted), checked complete,
 * then read from disk as the consumer asks. Why not GridFS's download stream or pages of chunks:
 * - the consumer (the parser's backpressure) can wait minutes, and FerretDB's SQLite backend blocks
 *   other work on a database while a cursor on it stays open; the copy holds its cursor only while it
 *   runs at disk speed;
 * - on FerretDB every query reads the whole chunks collection (no filter uses an index), so pages of 8
 *   chunks cost one read of every stored report per 2 MB: 17 s each for a 277 MB report, about 2,000 s
 *   in all; the copy reads it once.
 * The temporary file (under the OS temp folder, the size of the report) is removed when the reader ends,
 * fails or is closed early; its folder is named after the process (`qpc-report-<pid>-...`) so that
 * sweepReportTempDirs can remove what a killed process left.
 */
/** The folder of a temporary report copy: `qpc-report-<pid>-<random>`. */
const TEMP_PREFIX = 'qpc-report-';
const TEMP_DIR = new RegExp(`^${TEMP_PREFIX}(\\d+)-[^/]+$`);

export async function* readReportFile(store: Store, id: string, opts: { tmpDir?: string } = {}): AsyncGenerator<Buffer> {
  const chunks = store.db.collection<{ files_id: string; n: number; data: { buffer: Uint8Array } }>(`${REPORT_BUCKET}.chunks`);
  const file = await store.db.collection(`${REPORT_BUCKET}.files`).findOne({ _id: id as never });
  if (!file) throw new StoreError('REPORT_FILE_MISSING', `report file ${id} is not stored`, true);
  const length = Number(file.length);
  const chunkSize = Number(file.chunkSize);
  const total = Math.ceil(length / chunkSize);
  const dir = await mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), `${TEMP_PREFIX}${process.pid}-`));
  try {
    const local = path.join(dir, 'report');
    const out = await open(local, 'w');
    const seen = new Uint8Array(total);
    let bytes = 0;
    try {
      for await (const c of chunks.find({ files_id: id }, { batchSize: 16, projection: { _id: 0, n: 1, data: 1 } })) {
        const data = Buffer.from(c.data.buffer);
        const expected = c.n === total - 1 ? length - c.n * chunkSize : chunkSize;
        if (!Number.isInteger(c.n) || c.n < 0 || c.n >= total || seen[c.n] || data.length !== expected) {
          throw new StoreError('REPORT_FILE_MISMATCH', `report file ${id}: chunk ${c.n} is not one of its ${total} chunks or has ${data.length} bytes`, true);
        }
        seen[c.n] = 1;
        bytes += data.length;
        await out.write(data, 0, data.length, c.n * chunkSize);
      }
    } finally {
      await out.close();
    }
    if (bytes !== length) {
      const missing = seen.indexOf(0);
      throw new StoreError('REPORT_FILE_MISSING', `report file ${id}: chunks ${missing}.. missing (${bytes} of ${length} bytes)`, true);
    }
    for await (const chunk of createReadStream(local, { highWaterMark: chunkSize })) yield chunk as Buffer;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // it exists, owned by another user
  }
}

/**
 * Remove the temporary report copies (see readReportFile) of processes that are gone: a worker killed
 * while reading leaves a file the size of the report. Call it at start, before reading anything: a
 * folder named after this process's own pid is then a previous life's (a container's first process
 * always has the same pid). Folders of live processes and anything else in the folder are left alone.
 * The folder must not be shared with processes of another PID namespace (another container).
 */
export async function sweepReportTempDirs(tmpDir: string = os.tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(tmpDir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TEMP_DIR.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && processAlive(pid)) continue;
    const dir = path.join(tmpDir, name);
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

export function openReportFile(store: Store, id: string): Readable {
  return store.bucket.openDownloadStream(id as never);
}
