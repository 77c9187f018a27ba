/**
 * Incremental UTF-8 decoding for chunked input: multibyte characters split across chunks decode
 * correctly, and invalid sequences are counted (each becomes U+FFFD; a U+FFFD that is really in the
 * input, bytes EF BF BD, is not counted).
 */
const FFFD_BYTES = Buffer.from([0xef, 0xbf, 0xbd]);

export class Utf8Stream {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  /** bytes received so far */
  bytes = 0;
  private fffdOut = 0;
  private fffdIn = 0;
  /** the last (up to) 2 bytes of the input, to find EF BF BD split across chunks */
  private tail0 = -1;
  private tail1 = -1;
  /** the last (up to) 3 bytes, to know how many bytes the decoder holds back */
  private last: number[] = [];
  private started = false;
  /** 3 when a byte order mark was dropped */
  bomBytes = 0;

  /** Byte offset, in the input, of the first character of the string the next `write` returns. */
  nextByteStart = 0;

  write(chunk: Uint8Array): string {
    const heldBefore = this.held();
    this.nextByteStart = this.bytes - heldBefore;
    this.countInputFffd(chunk);
    this.bytes += chunk.length;
    this.remember(chunk);
    let s = this.decoder.decode(chunk, { stream: true });
    s = this.afterDecode(s);
    return s;
  }

  /** The end of input: flushes an incomplete trailing sequence (counted as invalid). */
  end(): string {
    this.nextByteStart = this.bytes - this.held();
    this.last = [];
    return this.afterDecode(this.decoder.decode());
  }

  /** invalid UTF-8 sequences met so far */
  get invalid(): number {
    return this.fffdOut - this.fffdIn;
  }

  private afterDecode(s: string): string {
    if (s.length === 0) return s;
    if (!this.started) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) {
        s = s.slice(1);
        this.bomBytes = 3;
        this.nextByteStart += 3;
      }
    }
    let i = s.indexOf('\uFFFD');
    while (i !== -1) {
      this.fffdOut++;
      i = s.indexOf('\uFFFD', i + 1);
    }
    return s;
  }

  private countInputFffd(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    let i = buf.indexOf(FFFD_BYTES);
    while (i !== -1) {
      this.fffdIn++;
      i = buf.indexOf(FFFD_BYTES, i + 3);
    }
    // occurrences that straddle the previous chunk(s) and this one
    const b0 = buf.length > 0 ? buf[0]! : -1;
    const b1 = buf.length > 1 ? buf[1]! : -1;
    if (this.tail0 === 0xef && this.tail1 === 0xbf && b0 === 0xbd) this.fffdIn++;
    if (this.tail1 === 0xef && b0 === 0xbf && b1 === 0xbd) this.fffdIn++;
    if (buf.length >= 2) {
      this.tail0 = buf[buf.length - 2]!;
      this.tail1 = buf[buf.length - 1]!;
    } else if (buf.length === 1) {
      this.tail0 = this.tail1;
      this.tail1 = buf[0]!;
    }
  }

  private remember(chunk: Uint8Array): void {
    if (chunk.length >= 3) {
      this.last = [chunk[chunk.length - 3]!, chunk[chunk.length - 2]!, chunk[chunk.length - 1]!];
    } else {
      this.last = [...this.last, ...chunk].slice(-3);
    }
  }

  /** How many trailing bytes of the input form an incomplete sequence the decoder is holding back. */
  private held(): number {
    const b = this.last;
    for (let k = 1; k <= b.length; k++) {
      const x = b[b.length - k]!;
      if (x >= 0x80 && x < 0xc0) continue;
      if (x < 0x80) return 0;
      const need = x >= 0xf0 ? 4 : x >= 0xe0 ? 3 : 2;
      return need > k ? k : 0;
    }
    return 0;
  }
}
