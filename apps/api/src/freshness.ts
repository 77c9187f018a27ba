/**
 * A connector's data freshness (@qpc/domain freshness()): its newest assessment is the newest `dataAsOf`
 * of its complete (succeeded) runs; a run recorded before runs kept `dataAsOf`, or whose report had no
 * generation date, is dated by its report's launch date. One query per connector, over its last
 * FRESHNESS_RUNS complete runs (the newest assessment is among them: a run that re-reads an older
 * report does not move it back, and older runs hold older reports). A run without a date (an incremental
 * posture pull that read no change) leaves the newest date to the runs before it.
 */
import { freshness, type Freshness } from '@qpc/domain';
import type { ConnectorDoc, RunDoc, Store } from '@qpc/store/db';

export const FRESHNESS_RUNS = 100;

type RunDates = Pick<RunDoc, 'dataAsOf' | 'reportLaunchedAt'> & { counts?: Partial<RunDoc['counts']>; posture?: { kind?: string } | null };

export async function connectorFreshness(store: Store, c: Pick<ConnectorDoc, '_id' | 'staleAfterDays'>, now = new Date()): Promise<Freshness> {
  const complete = await store.col.runs
    .find({ connectorId: c._id, state: 'succeeded' }, { projection: { _id: 0, dataAsOf: 1, reportLaunchedAt: 1, 'counts.hostsParsed': 1, 'posture.kind': 1 } })
    .sort({ createdAt: -1, _id: -1 })
    .limit(FRESHNESS_RUNS)
    .toArray();
  let dataAsOf: Date | null = null;
  for (const r of complete as RunDates[]) {
    const at = r.dataAsOf ?? r.reportLaunchedAt ?? null;
    if (at && (!dataAsOf || at > dataAsOf)) dataAsOf = at;
  }
  // an incremental posture pull reads only what changed (0 hosts when nothing did): the zero-hosts rule
  // looks at the newest complete assessment, a report or a full pull
  const last = (complete as RunDates[]).find((r) => r.posture?.kind !== 'incremental');
  const hosts = last?.counts?.hostsParsed;
  return freshness({ dataAsOf, lastCompleteHosts: typeof hosts === 'number' ? hosts : null, staleAfterDays: c.staleAfterDays ?? null, now });
}

/** The connector view's freshness fields. */
export function freshnessView(f: Freshness) {
  return { dataAsOf: f.dataAsOf, dataAge: f.dataAge, stale: f.stale, staleReason: f.staleReason };
}

export interface ConnectorFreshnessRow {
  id: string;
  name: string;
  freshness: Freshness;
}

/** Every connector's freshness (for /metrics), in name order. Connectors being deleted are left out. */
export async function allConnectorFreshness(store: Store, now = new Date()): Promise<ConnectorFreshnessRow[]> {
  const all = await store.col.connectors
    .find({}, { projection: { _id: 1, name: 1, staleAfterDays: 1, deleting: 1 } })
    .sort({ nameLower: 1, _id: 1 })
    .toArray();
  return Promise.all(all.filter((c) => !c.deleting).map(async (c) => ({ id: c._id, name: c.name, freshness: await connectorFreshness(store, c, now) })));
}
