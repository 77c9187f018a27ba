/**
 * Which reports a sync pulls (domain.md). Pure: the caller lists the reports and says which ones this
 * connector has already ingested.
 */

/** The fields of a report list entry the selection reads (structurally the client's ReportInfo). */
export interface ListedReport {
  id: string;
  title: string;
  type?: string | undefined;
  state?: string | undefined;
  launchedAt?: Date | undefined;
  expiresAt?: Date | undefined;
  outputFormat?: string | undefined;
}

export type SkipReason = 'older-unseen' | 'not-policy' | 'not-finished' | 'expired' | 'not-xml';

export interface Selection<R extends ListedReport> {
  /** the reports to ingest, oldest first */
  chosen: R[];
  /** matching reports not ingested, with why (older unseen ones of a chosen title are `older-unseen`) */
  skipped: { report: R; reason: SkipReason }[];
}

export interface SelectOptions {
  prefix: string;
  /** ids of the reports this connector ingested already */
  ingested: ReadonlySet<string>;
  now: Date;
  /** on demand: take the newest report of each title even if it was ingested already */
  reingest?: boolean;
}

/** Exact, case-sensitive prefix match after trimming both. */
export function titleMatches(title: string, prefix: string): boolean {
  return title.trim().startsWith(prefix.trim());
}

const POLICY_TYPES = new Set(['policy', 'compliance']);

function launched(r: ListedReport): number {
  return r.launchedAt?.getTime() ?? 0;
}

function byLaunch(a: ListedReport, b: ListedReport): number {
  return launched(a) - launched(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * 1. keep reports matching the prefix that are policy reports, Finished, not expired (and XML, the only
 *    format the parser reads);
 * 2. per exact title, take the newest not yet ingested; older unseen ones are skipped, not lost.
 *    Reports older than the newest one already ingested are never taken: ingesting them would roll
 *    the findings back to an older state (reopening what was fixed since).
 * 3. chosen reports come out oldest first.
 */
export function selectReports<R extends ListedReport>(reports: readonly R[], opts: SelectOptions): Selection<R> {
  const skipped: Selection<R>['skipped'] = [];
  const groups = new Map<string, R[]>();
  for (const r of reports) {
    if (!titleMatches(r.title, opts.prefix)) continue;
    const reason: SkipReason | null = !POLICY_TYPES.has((r.type ?? '').trim().toLowerCase())
      ? 'not-policy'
      : (r.state ?? '').trim().toLowerCase() !== 'finished'
        ? 'not-finished'
        : r.expiresAt !== undefined && r.expiresAt.getTime() <= opts.now.getTime()
          ? 'expired'
          : r.outputFormat !== undefined && r.outputFormat.trim().toLowerCase() !== 'xml'
            ? 'not-xml'
            : null;
    if (reason) {
      if (!opts.ingested.has(r.id)) skipped.push({ report: r, reason });
      continue;
    }
    groups.set(r.title, [...(groups.get(r.title) ?? []), r]);
  }
  const chosen: R[] = [];
  for (const group of groups.values()) {
    const sorted = [...group].sort(byLaunch);
    const newest = sorted[sorted.length - 1];
    if (!newest) continue;
    if (opts.reingest) {
      chosen.push(newest);
      for (const r of sorted.slice(0, -1)) if (!opts.ingested.has(r.id)) skipped.push({ report: r, reason: 'older-unseen' });
      continue;
    }
    let lastIngested = -1;
    sorted.forEach((r, i) => {
      if (opts.ingested.has(r.id)) lastIngested = i;
    });
    const fresh = sorted.slice(lastIngested + 1);
    const pick = fresh[fresh.length - 1];
    if (pick) chosen.push(pick);
    for (const r of sorted) {
      if (r !== pick && !opts.ingested.has(r.id)) skipped.push({ report: r, reason: 'older-unseen' });
    }
  }
  return { chosen: chosen.sort(byLaunch), skipped };
}
