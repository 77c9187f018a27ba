/** Dates, durations and sizes in plain English for tables. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function age(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return 'never synced';
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min old`;
  if (seconds < 86400 * 2) return `${Math.round(seconds / 3600)} h old`;
  return `${Math.round(seconds / 86400)} days old`;
}

export function bytes(n: number | null | undefined): string {
  if (!n) return '0 B';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const DAY_S = 86400;

/**
 * The API's staleness rule (GET /api/overview's staleConnectors), so the badge and the Overview agree:
 * stale past two of the schedule's longest gaps (at least a day), 7 days when on demand, or no data.
 */
export function isStale(dataAgeSeconds: number | null | undefined, nextRuns: readonly string[] = []): boolean {
  if (dataAgeSeconds === null || dataAgeSeconds === undefined) return true;
  let limit = 7 * DAY_S;
  if (nextRuns.length >= 2) {
    let gap = 0;
    for (let i = 1; i < nextRuns.length; i++) gap = Math.max(gap, (Date.parse(nextRuns[i]!) - Date.parse(nextRuns[i - 1]!)) / 1000);
    limit = Math.max(DAY_S, 2 * gap);
  }
  return dataAgeSeconds > limit;
}
