/** Copies pre-encoded fragments into chunk buffers (or only counts them). */

export const CHUNK_BYTES = 128 * 1024;
const SLACK = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Copies pre-encoded fragments into chunk buffers. A full chunk goes to `ready` and a fresh buffer
 * is taken (a consumer may still hold the previous one, e.g. a socket write in flight).
 */
export class ByteWriter {
  buf: Buffer;
  pos = 0;
  /** bytes already cut (count-only mode: the running total) */
  total = 0;
  readonly ready: Buffer[] = [];
  /** newlines in the chunks already cut (kept only when lines are asked for) */
  private lines = 0;
  trackLines = false;
  /** countOnly: measure without copying (the byte length of a report for Content-Length) */
  constructor(readonly countOnly = false) {
    this.buf = Buffer.allocUnsafe(countOnly ? 0 : CHUNK_BYTES + SLACK);
  }
  put(b: Buffer): void {
    if (this.countOnly) {
      this.pos += b.length;
      return;
    }
    if (this.pos + b.length > this.buf.length) this.cut(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** an ASCII string written straight into the chunk (no Buffer of its own) */
  ascii(s: string): void {
    if (!this.countOnly) {
      if (this.pos + s.length > this.buf.length) this.cut(s.length);
      this.buf.write(s, this.pos, 'latin1');
    }
    this.pos += s.length;
  }
  linesCut(): number {
    return this.lines;
  }
  str(s: string): void {
    if (this.countOnly) this.pos += Buffer.byteLength(s, 'utf8');
    else this.put(Buffer.from(s, 'utf8'));
  }
  cut(need = 0): void {
    this.total += this.pos;
    if (this.countOnly) {
      this.pos = 0;
      this.ready.push(EMPTY); // a turn for the caller (reportByteLengthAsync yields there)
      return;
    }
    if (this.pos > 0) {
      const chunk = this.buf.subarray(0, this.pos);
      if (this.trackLines) this.lines += countNewlines(chunk, chunk.length);
      this.ready.push(chunk);
    }
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES + SLACK, need));
    this.pos = 0;
  }
}

/** the 1-based line the next byte will be on (needs trackLines) */
export function lineAt(w: ByteWriter): number {
  return w.linesCut() + countNewlines(w.buf, w.pos) + 1;
}

function countNewlines(b: Buffer, end: number): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1 && i < end; i = b.indexOf(10, i + 1)) n++;
  return n;
}

