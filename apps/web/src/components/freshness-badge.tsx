/**
 * A connector's data freshness as the API computes it (GET /api/connectors: dataAge in seconds since its
 * newest assessment, stale and staleReason): "data 3 days old", or a stale badge with the reason.
 */
import { age } from '../format.ts';

export interface FreshnessFields {
  dataAsOf?: string | null;
  dataAge?: number | null;
  stale?: boolean;
  staleReason?: { code: string; message: string } | null;
}

export function FreshnessBadge({ c }: { c: FreshnessFields }) {
  const data = c.dataAge === null || c.dataAge === undefined ? 'no data yet' : `data ${age(c.dataAge)}`;
  if (!c.stale) {
    return (
      <span className="badge badge-fresh" title={c.dataAsOf ? `newest assessment ${c.dataAsOf}` : undefined}>
        {data}
      </span>
    );
  }
  return (
    <>
      <span className="badge badge-stale">stale: {data}</span>
      {c.staleReason && <div className="sub">{c.staleReason.message}</div>}
    </>
  );
}
