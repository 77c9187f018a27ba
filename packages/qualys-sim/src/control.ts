/** Limits, faults and statistics of one simulator: the knobs tests turn. */

export interface Limits {
  /** calls allowed at once (default 10) */
  concurrency: number;
  /** calls per window (default 2000) */
  rateLimit: number;
  windowSec: number;
}

export interface Faults {
  latencyMs?: number;
  errors5xx?: number;
  conflicts409?: number;
  toWaitSec?: number;
  resetAtByte?: number;
  truncateAtByte?: number;
  contentLength?: boolean;
  range?: boolean;
  times?: number;
  /**
   * report fetch: the first closing tag that starts at or after byte N, outside CDATA, gets another name
   * (`</HOST>` -> `</XOST>`): same length, ETag and root end, so the download is whole but the XML is not
   * well-formed from there. Every fetch while set (not counted by `times`).
   */
  malformAtByte?: number;
  /** report fetch: every answer carries a new strong ETag (the report changed in between): If-Range never matches */
  changingEtag?: boolean;
  /** report and posture bodies: sent at about this many bytes a second (a slow link), every fetch while set */
  bytesPerSecond?: number;
  simpleReturn200?: { code: number; text: string };
  htmlPage?: boolean;
  genericReturn?: boolean;
}

export interface SimStats {
  calls: number;
  byPath: Record<string, number>;
  /** extra: calls per "<path>?action=<action>" */
  byAction: Record<string, number>;
  conflicts409: number;
  /** most calls running at once, counted at arrival (a call refused with 409 included) */
  maxConcurrent: number;
  running: number;
  fetches: Record<string, number>;
}

export const DEFAULT_LIMITS: Limits = { concurrency: 10, rateLimit: 2000, windowSec: 3600 };

/** A fault set with its own countdowns (a copy: the caller's object is not mutated). */
export class FaultState {
  readonly f: Faults;
  errors5xx: number;
  conflicts409: number;
  simpleReturn200: boolean;
  htmlPage: boolean;
  genericReturn: boolean;
  bodyTimes: number;
  constructor(f: Faults) {
    this.f = { ...f };
    this.errors5xx = f.errors5xx ?? 0;
    this.conflicts409 = f.conflicts409 ?? 0;
    this.simpleReturn200 = f.simpleReturn200 !== undefined;
    this.htmlPage = f.htmlPage === true;
    this.genericReturn = f.genericReturn === true;
    this.bodyTimes = f.resetAtByte !== undefined || f.truncateAtByte !== undefined ? (f.times ?? 1) : 0;
  }
}

export type OneShot =
  | { kind: '5xx' }
  | { kind: '409'; toWaitSec: number }
  | { kind: 'generic' }
  | { kind: 'html' }
  | { kind: 'simple200'; code: number; text: string };

/** Takes the next one-shot fault from the given sets (report-specific first), counting it down. */
export function takeOneShot(sets: FaultState[]): OneShot | null {
  for (const s of sets) {
    if (s.errors5xx > 0) {
      s.errors5xx--;
      return { kind: '5xx' };
    }
    if (s.conflicts409 > 0) {
      s.conflicts409--;
      return { kind: '409', toWaitSec: s.f.toWaitSec ?? 1 };
    }
    if (s.genericReturn) {
      s.genericReturn = false;
      return { kind: 'generic' };
    }
    if (s.htmlPage) {
      s.htmlPage = false;
      return { kind: 'html' };
    }
    if (s.simpleReturn200 && s.f.simpleReturn200) {
      s.simpleReturn200 = false;
      return { kind: 'simple200', ...s.f.simpleReturn200 };
    }
  }
  return null;
}

export interface BodyPlan {
  contentLength: boolean;
  range: boolean;
  cut: { at: number; mode: 'reset' | 'truncate' } | null;
  /** break the XML at the first closing tag from this byte on (see Faults.malformAtByte) */
  malformAt: number | null;
  changingEtag: boolean;
  /** send the body at about this rate (null: as fast as the socket takes it) */
  bytesPerSecond: number | null;
}

/** The body faults of one report fetch (report-specific settings win), counting `times` down. */
export function takeBodyPlan(sets: FaultState[]): BodyPlan {
  let contentLength = true;
  let range = true;
  let malformAt: number | null = null;
  let changingEtag = false;
  let bytesPerSecond: number | null = null;
  for (const s of [...sets].reverse()) {
    if (s.f.bytesPerSecond !== undefined) bytesPerSecond = s.f.bytesPerSecond > 0 ? s.f.bytesPerSecond : null;
    if (s.f.contentLength !== undefined) contentLength = s.f.contentLength;
    if (s.f.range !== undefined) range = s.f.range;
    if (s.f.malformAtByte !== undefined) malformAt = s.f.malformAtByte;
    if (s.f.changingEtag !== undefined) changingEtag = s.f.changingEtag;
  }
  let cut: BodyPlan['cut'] = null;
  for (const s of sets) {
    if (s.bodyTimes > 0) {
      s.bodyTimes--;
      cut = s.f.resetAtByte !== undefined ? { at: s.f.resetAtByte, mode: 'reset' } : { at: s.f.truncateAtByte ?? 0, mode: 'truncate' };
      break;
    }
  }
  return { contentLength, range, cut, malformAt, changingEtag, bytesPerSecond };
}

const LT = 0x3c;
const SLASH = 0x2f;
const CDATA_OPEN = Buffer.from('<![CDATA[');
const BRACKET = 0x5d;
const GT = 0x3e;

/**
 * Breaks an XML body fed chunk by chunk from its first byte: the first closing tag whose `<` is at or
 * after byte `at` and outside a CDATA section gets another first letter of its name (`</HOST>` becomes
 * `</XOST>`, `</X..>` becomes `</Y..>`). The length stays; chunks before and after are passed as they are.
 */
export class Malformer {
  /** absolute offset of the malformed byte, once found */
  malformedAt: number | null = null;
  private pos = 0;
  private inCdata = false;
  private open = 0; // bytes of "<![CDATA[" matched
  private close = 0; // "]" seen inside CDATA (0..2)
  private tag = 0; // 1: "<" seen (at tagAt), 2: "</" seen
  private tagAt = -1;

  constructor(private readonly at: number) {}

  apply(chunk: Buffer): Buffer {
    if (this.malformedAt !== null) {
      this.pos += chunk.length;
      return chunk;
    }
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      const abs = this.pos + i;
      if (this.inCdata) {
        if (c === BRACKET) this.close = Math.min(2, this.close + 1);
        else {
          if (c === GT && this.close === 2) this.inCdata = false;
          this.close = 0;
        }
        continue;
      }
      if (this.tag === 2) {
        this.tag = 0;
        if (this.tagAt >= this.at) {
          const out = Buffer.from(chunk);
          out[i] = c === 0x58 ? 0x59 : 0x58; // X, or Y for a name that starts with X
          this.malformedAt = abs;
          this.pos += chunk.length;
          return out;
        }
      } else if (this.tag === 1) this.tag = c === SLASH ? 2 : 0;
      if (c === LT) {
        this.tag = 1;
        this.tagAt = abs;
      }
      this.open = c === CDATA_OPEN[this.open] ? this.open + 1 : c === LT ? 1 : 0;
      if (this.open === CDATA_OPEN.length) {
        this.inCdata = true;
        this.open = 0;
        this.close = 0;
        this.tag = 0;
      }
    }
    this.pos += chunk.length;
    return chunk;
  }
}

export function maxLatency(sets: FaultState[]): number {
  return Math.max(0, ...sets.map((s) => s.f.latencyMs ?? 0));
}
