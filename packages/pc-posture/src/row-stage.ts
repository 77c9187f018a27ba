/**
 * Where rows wait for the glossary: rows as text, fields separated by U+0000, data point values by
 * U+0001, data points by U+0002 and rows by U+0003 (characters XML does not allow, replaced in the
 * input by the parser). The first 4 Mi characters stay in memory as flat strings (a page of some
 * 10,000 rows never touches the disk); the rest goes to a temporary file in ~1 MiB blocks, read back
 * in 1 MiB blocks. Memory stays the same whatever the number of rows; `close()` removes the file.
 * (JSON with length prefixes cost twice the CPU of the parse itself; row objects kept in memory cost
 * more garbage collection than the file, their sliced strings holding whole decoded chunks.)
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

const BLOCK = 1024 * 1024;
const FS = '\u0000';
const VS = '\u0001';
const DS = '\u0002';
const RS = '\u0003';
const RS_BYTE = 3;

function encode(r: StagedRow): string {
  let s = `${r.line}${FS}${r.group ?? ''}${FS}${r.f.join(FS)}${FS}`;
  for (let i = 0; i < r.dpvs.length; i++) s += (i ? DS : '') + r.dpvs[i]!.join(VS);
  return s + RS;
}

function decode(s: string): StagedRow {
  const parts = s.split(FS);
  const f: (string | null)[] = [];
  for (let i = 2; i < parts.length - 1; i++) f.push(parts[i] || null);
  const d = parts[parts.length - 1]!;
  return { line: Number(parts[0]), group: parts[1] || null, f, dpvs: d ? d.split(DS).map((x) => x.split(VS)) : [] };
}

/** characters of rows kept in memory as flat text before the stage writes to its file */
const MEMORY_CHARS = 4 * 1024 * 1024;

export class TempFileStage implements RowStage {
  /** the first blocks, as flat strings (no sliced string of the input in them: nothing else is held) */
  private memory: string[] = [];
  private memoryChars = 0;
  private dir: string | null = null;
  private fh: FileHandle | null = null;
  private parts: string[] = [];
  private chars = 0;
  private written = 0;
  count = 0;

  constructor(private readonly parent = tmpdir()) {}

  get full(): boolean {
    return this.chars >= BLOCK / 2;
  }

  /** bytes staged so far (written to the file) */
  get bytes(): number {
    return this.written;
  }

  add(row: StagedRow): void {
    const s = encode(row);
    this.parts.push(s);
    this.chars += s.length;
    this.count++;
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.chars = 0;
    if (this.fh === null && this.memoryChars + text.length <= MEMORY_CHARS) {
      this.memory.push(text);
      this.memoryChars += text.length;
      return;
    }
    const b = Buffer.from(text, 'utf8');
    const fh = await this.file();
    await fh.write(b, 0, b.length, this.written);
    this.written += b.length;
  }

  async *rows(): AsyncGenerator<StagedRow> {
    await this.flush();
    const memory = this.memory;
    this.memory = [];
    for (const text of memory) {
      const rows = text.split(RS);
      for (let i = 0; i < rows.length - 1; i++) yield decode(rows[i]!);
    }
    if (!this.fh) return;
    let block = Buffer.allocUnsafe(BLOCK);
    let have = 0;
    let at = 0;
    for (;;) {
      const { bytesRead } = await this.fh.read(block, have, block.length - have, at);
      at += bytesRead;
      have += bytesRead;
      // rows end with a byte no UTF-8 sequence contains: decode up to the last one
      const end = have > 0 ? block.lastIndexOf(RS_BYTE, have - 1) : -1;
      if (end >= 0) {
        const rows = block.toString('utf8', 0, end).split(RS);
        for (const r of rows) yield decode(r);
        block.copy(block, 0, end + 1, have);
        have -= end + 1;
      } else if (have === block.length) {
        // one row larger than the block
        const bigger = Buffer.allocUnsafe(block.length * 2);
        block.copy(bigger, 0, 0, have);
        block = bigger;
      }
      if (bytesRead === 0) break;
    }
    if (have !== 0) throw new Error(`posture row stage: ${have} bytes of an incomplete row at the end of the stage file`);
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
