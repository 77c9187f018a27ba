/**
 * Maps character offsets of the decoded text (what htmlparser2 counts) to line numbers and byte offsets.
 * Lines are counted once, forward, as pieces leave the window or offsets are asked for; a window of
 * recent pieces is kept so that an element that started a little earlier can still be placed, and the
 * token being read (from `keepFrom`) can be sliced.
 */
interface Piece {
  s: string;
  charStart: number;
  byteStart: number;
}

/** kept behind the newest piece: small, so that the pieces die young (a token being read is always kept) */
const WINDOW_CHARS = 256 * 1024;
const WINDOW_PIECES = 4096;

export class Positions {
  private pieces: Piece[] = [];
  private windowChars = 0;
  /** every character before `cursor` has been counted: `cursorLine` is the line at `cursor` */
  private cursor = 0;
  private cursorLine = 1;
  /** total characters appended */
  chars = 0;

  append(s: string, byteStart: number, keepFrom: number): void {
    if (s.length === 0) return;
    this.pieces.push({ s, charStart: this.chars, byteStart });
    this.chars += s.length;
    this.windowChars += s.length;
    while (this.pieces.length > 1) {
      const first = this.pieces[0]!;
      const end = first.charStart + first.s.length;
      if (end > keepFrom || (this.windowChars - first.s.length <= WINDOW_CHARS && this.pieces.length <= WINDOW_PIECES)) break;
      if (this.cursor < end) {
        this.cursorLine += this.countNewlines(this.cursor, end);
        this.cursor = end;
      }
      this.pieces.shift();
      this.windowChars -= first.s.length;
    }
  }

  /** 1-based line of a character offset (at or after the oldest kept piece). */
  lineAt(index: number): number {
    if (index >= this.cursor) {
      this.cursorLine += this.countNewlines(this.cursor, index);
      this.cursor = index;
      return this.cursorLine;
    }
    const oldest = this.pieces[0]?.charStart ?? 0;
    return this.cursorLine - this.countNewlines(Math.max(index, oldest), this.cursor);
  }

  /** Byte offset in the input of a character offset (exact for valid UTF-8), or null if out of the window. */
  byteAt(index: number): number | null {
    const p = this.pieceOf(index);
    if (!p) return null;
    return p.byteStart + Buffer.byteLength(p.s.slice(0, index - p.charStart));
  }

  /** UTF-16 code unit at an offset, or -1 when not in the window. */
  charCodeAt(index: number): number {
    const p = this.pieceOf(index);
    return p ? p.s.charCodeAt(index - p.charStart) : -1;
  }

  /** Whether the text between two offsets is `s` (without making a string; false when unsure). */
  matchAt(s: string, start: number, end: number): boolean {
    const last = this.pieces[this.pieces.length - 1];
    return end - start === s.length && last !== undefined && start >= last.charStart && last.s.startsWith(s, start - last.charStart);
  }

  /** The text between two offsets (from the token being read, or within the window). */
  slice(start: number, end: number): string {
    const last = this.pieces[this.pieces.length - 1];
    if (last && start >= last.charStart) return last.s.slice(start - last.charStart, end - last.charStart);
    let out = '';
    for (const p of this.pieces) {
      const pEnd = p.charStart + p.s.length;
      if (pEnd <= start) continue;
      if (p.charStart >= end) break;
      out += p.s.slice(Math.max(0, start - p.charStart), Math.min(p.s.length, end - p.charStart));
    }
    return out;
  }

  /** up to `n` characters from the start of the input, when still in the window */
  head(n: number): string {
    const p = this.pieces[0];
    return p && p.charStart === 0 ? p.s.slice(0, n) : '';
  }

  private pieceOf(index: number): Piece | undefined {
    for (let i = this.pieces.length - 1; i >= 0; i--) {
      const p = this.pieces[i]!;
      if (index >= p.charStart) return index < p.charStart + p.s.length ? p : undefined;
    }
    return undefined;
  }

  /** newlines in [from, to) within the kept pieces */
  private countNewlines(from: number, to: number): number {
    let n = 0;
    for (let i = 0; i < this.pieces.length && from < to; i++) {
      const p = this.pieces[i]!;
      const pEnd = p.charStart + p.s.length;
      if (pEnd <= from) continue;
      const a = from - p.charStart;
      const b = Math.min(to, pEnd) - p.charStart;
      let k = p.s.indexOf('\n', a);
      while (k !== -1 && k < b) {
        n++;
        k = p.s.indexOf('\n', k + 1);
      }
      from = Math.min(to, pEnd);
    }
    return n;
  }
}
