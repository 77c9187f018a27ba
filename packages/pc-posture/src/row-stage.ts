/**
 * Where rows wait for the glossary: a temporary file of length-prefixed records (4-byte length, then
 * the row as JSON), written through a 1 MiB buffer and read back in 1 MiB blocks. Memory stays the
 * same whatever the number of rows; the file is removed by `close()`.
 */
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { StagedRow } from './posture-parser.ts';

/** A place to keep rows until the glossary is read; a caller may provide its own. */
export interface RowStage {
  add(row: StagedRow): void;
  /** true when added rows wait in memory and should be flushed before more input is read */
  readonly full: boolean;
  flush(): Promise<void>;
  /** every added row, in order (after the last flush) */
  rows(): AsyncIterable<StagedRow>;
  close(): Promise<void>;
}

const BUFFER_BYTES = 1024 * 1024;

function encode(r: StagedRow): string {
  return JSON.stringify([r.line, r.group, r.f, r.dpvs]);
}

function decode(s: string): StagedRow {
  const [line, group, f, dpvs] = JSON.parse(s) as [number, string | null, (string | null)[], string[][]];
  return { line, group, f, dpvs };
}

export class TempFileStage implements RowStage {
  private dir: string | null = null;
  private fh: FileHandle | null = null;
  private buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private pos = 0;
  /** rows that did not fit the buffer (one row can be larger than it) */
  private big: Buffer[] = [];
  private written = 0;
  count = 0;

  constructor(private readonly parent = tmpdir()) {}

  get full(): boolean {
    return this.pos >= BUFFER_BYTES / 2 || this.big.length > 0;
  }

  /** bytes staged so far */
  get bytes(): number {
    return this.written + this.pos;
  }

  add(row: StagedRow): void {
    const s = encode(row);
    const n = Buffer.byteLength(s);
    this.count++;
    if (this.pos + 4 + n > this.buf.length) {
      const b = Buffer.allocUnsafe(4 + n);
      b.writeUInt32LE(n, 0);
      b.write(s, 4);
      this.big.push(this.buf.subarray(0, this.pos), b);
      this.buf = Buffer.allocUnsafe(BUFFER_BYTES);
      this.pos = 0;
      return;
    }
    this.buf.writeUInt32LE(n, this.pos);
    this.buf.write(s, this.pos + 4);
    this.pos += 4 + n;
  }

  async flush(): Promise<void> {
    if (this.pos === 0 && this.big.length === 0) return;
    const fh = await this.file();
    for (const b of this.big) {
      await fh.write(b, 0, b.length, this.written);
      this.written += b.length;
    }
    this.big = [];
    if (this.pos > 0) {
      await fh.write(this.buf, 0, this.pos, this.written);
      this.written += this.pos;
      this.pos = 0;
    }
  }

  async *rows(): AsyncGenerator<StagedRow> {
    await this.flush();
    if (!this.fh) return;
    let block = Buffer.allocUnsafe(BUFFER_BYTES);
    let have = 0;
    let at = 0;
    for (;;) {
      const { bytesRead } = await this.fh.read(block, have, block.length - have, at);
      at += bytesRead;
      have += bytesRead;
      let off = 0;
      while (have - off >= 4) {
        const n = block.readUInt32LE(off);
        if (have - off - 4 < n) break;
        yield decode(block.toString('utf8', off + 4, off + 4 + n));
        off += 4 + n;
      }
      // keep the partial record; grow the block when one record does not fit
      const rest = have - off;
      const need = rest >= 4 ? 4 + block.readUInt32LE(off) : 4;
      const next = need > block.length ? Buffer.allocUnsafe(need) : block;
      block.copy(next, 0, off, have);
      block = next;
      have = rest;
      if (bytesRead === 0) break;
    }
    if (have !== 0) throw new Error(`posture row stage: ${have} bytes of an incomplete record at the end of the stage file`);
  }

  async close(): Promise<void> {
    const fh = this.fh;
    const dir = this.dir;
    this.fh = null;
    this.dir = null;
    await fh?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }

  private async file(): Promise<FileHandle> {
    if (this.fh) return this.fh;
    this.dir = await mkdtemp(path.join(this.parent, 'qpc-posture-'));
    this.fh = await open(path.join(this.dir, 'rows.bin'), 'w+');
    return this.fh;
  }
}
