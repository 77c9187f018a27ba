/**
 * What the console shows beside a connector: its next starts, its schedule in words, its last run, and
 * its data freshness (freshness.ts: the newest assessment's date, its age in seconds, stale and why).
 * Two queries per connector on runs_by_connector: the last run, and the last complete ones.
 */
import type { ConnectorDoc } from '@qpc/store/db';
import { connectorFreshness, freshnessView } from '../freshness.ts';
import { connectorNextRuns, scheduleText } from '../schedule-preview.ts';
import type { ServerDeps } from '../server.ts';

export async function connectorStatus(deps: ServerDeps, d: ConnectorDoc, now = new Date()) {
  const { runs } = deps.store.col;
  const [last, fresh] = await Promise.all([
    runs.find({ connectorId: d._id }, { projection: { _id: 1, state: 1, createdAt: 1, endedAt: 1, counts: 1 } }).sort({ createdAt: -1, _id: -1 }).limit(1).next(),
    connectorFreshness(deps.store, d, now),
  ]);
  return {
    nextRuns: connectorNextRuns(d.schedule, now),
    scheduleText: scheduleText(d.schedule),
    lastRun: last ? { id: last._id, state: last.state, startedAt: last.createdAt, endedAt: last.endedAt ?? null, counts: last.counts ?? null, capacityWarning: last.capacity ?? null } : null,
    ...freshnessView(fresh),
  };
}
