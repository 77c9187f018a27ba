/**
 * Data freshness: how old a connector's newest assessment is, and whether that makes the connector stale.
 *
 * A run's `dataAsOf` is the newest assessment date it read (a Policy Report's generation date; a posture
 * pull's newest evaluation date). A connector's is the newest `dataAsOf` of its complete runs, and its
 * data age is the time since then. It is stale when that age is over its threshold (`staleAfterDays`,
 * default 8: a weekly report plus a day), when its last complete run read no host at all (a report
 * that matches nothing in Qualys any more looks like a success otherwise), or when no complete run has
 * read data yet.
 */

export const DEFAULT_STALE_AFTER_DAYS = 8;
/** thresholds accepted: more than zero (fractions of a day allowed), at most a year */
export const MAX_STALE_AFTER_DAYS = 366;
/** what a valid staleAfterDays is, in the words every refusal uses */
export const STALE_AFTER_DAYS_RULE = `must be a number of days greater than 0 and at most ${MAX_STALE_AFTER_DAYS}`;

export class StaleAfterDaysError extends Error {
  override name = 'StaleAfterDaysError';
  readonly field = 'staleAfterDays';
}

/** A valid staleAfterDays, or a StaleAfterDaysError saying what is allowed. */
export function validateStaleAfterDays(days: unknown): number {
  if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0 || days > MAX_STALE_AFTER_DAYS) {
    throw new StaleAfterDaysError(STALE_AFTER_DAYS_RULE);
  }
  return days;
}

export type StaleCode = 'NO_DATA' | 'DATA_AGE' | 'ZERO_HOSTS';

export interface Freshness {
  /** newest assessment date of the connector's complete runs; null: none read yet */
  dataAsOf: Date | null;
  /** whole seconds since dataAsOf (0 when dataAsOf lies ahead); null without dataAsOf */
  dataAge: number | null;
  stale: boolean;
  staleReason: { code: StaleCode; message: string } | null;
}

export interface FreshnessInput {
  dataAsOf: Date | null;
  /** hosts read by the connector's last complete run; null: no complete run */
  lastCompleteHosts: number | null;
  /** the connector's threshold; default DEFAULT_STALE_AFTER_DAYS */
  staleAfterDays?: number | null;
  now: Date;
}

const DAY_S = 24 * 3600;

/** "3 d", "5 h", "12 min": an age in words for messages. */
function ageText(seconds: number): string {
  if (seconds >= DAY_S) return `${Math.floor((seconds / DAY_S) * 10) / 10} d`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 60)} min`;
}

export function freshness(i: FreshnessInput): Freshness {
  const days = i.staleAfterDays ?? DEFAULT_STALE_AFTER_DAYS;
  const dataAge = i.dataAsOf ? Math.max(0, Math.floor((i.now.getTime() - i.dataAsOf.getTime()) / 1000)) : null;
  const base = { dataAsOf: i.dataAsOf, dataAge };
  if (i.lastCompleteHosts === 0) {
    return { ...base, stale: true, staleReason: { code: 'ZERO_HOSTS', message: 'the last complete run read 0 hosts' } };
  }
  if (dataAge === null) {
    return { ...base, stale: true, staleReason: { code: 'NO_DATA', message: 'no complete run has read data yet' } };
  }
  if (dataAge > days * DAY_S) {
    return {
      ...base,
      stale: true,
      staleReason: { code: 'DATA_AGE', message: `the newest assessment is ${ageText(dataAge)} old, over the ${days} d threshold` },
    };
  }
  return { ...base, stale: false, staleReason: null };
}
