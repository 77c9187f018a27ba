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
}

/** The body faults of one report fetch (report-specific settings win), counting `times` down. */
export function takeBodyPlan(sets: FaultState[]): BodyPlan {
  let contentLength = true;
  let range = true;
  for (const s of [...sets].reverse()) {
    if (s.f.contentLength !== undefined) contentLength = s.f.contentLength;
    if (s.f.range !== undefined) range = s.f.range;
  }
  let cut: BodyPlan['cut'] = null;
  for (const s of sets) {
    if (s.bodyTimes > 0) {
      s.bodyTimes--;
      cut = s.f.resetAtByte !== undefined ? { at: s.f.resetAtByte, mode: 'reset' } : { at: s.f.truncateAtByte ?? 0, mode: 'truncate' };
      break;
    }
  }
  return { contentLength, range, cut };
}

export function maxLatency(sets: FaultState[]): number {
  return Math.max(0, ...sets.map((s) => s.f.latencyMs ?? 0));
}
