/**
 * What the console shows beside a connector: its next starts, its schedule in words, its last run, and
 * how old its newest ingested report is. Two keyed queries per connector (runs_by_connector and
 * report_unique's connectorId prefix), limited to one document each.
 */
import type { ConnectorDoc } from '@qpc/store';
import { connectorNextRuns, scheduleText } from '../schedule-preview.ts';
import type { ServerDeps } from '../server.ts';

export async function connectorStatus(deps: ServerDeps, d: ConnectorDoc, now = new Date()) {
  const { runs, reports } = deps.store.col;
  const [last, newest] = await Promise.all([
    runs.find({ connectorId: d._id }, { projection: { _id: 1, state: 1, createdAt: 1, endedAt: 1, counts: 1 } }).sort({ createdAt: -1, _id: -1 }).limit(1).next(),
    reports.find({ connectorId: d._id }, { projection: { launchedAt: 1, ingestedAt: 1 } }).sort({ launchedAt: -1, ingestedAt: -1 }).limit(1).next(),
  ]);
  // a report without a launch date is dated by its ingestion
  const reportAt = newest ? (newest.launchedAt ?? newest.ingestedAt) : null;
  return {
    nextRuns: connectorNextRuns(d.schedule, now),
    scheduleText: scheduleText(d.schedule),
    lastRun: last ? { id: last._id, state: last.state, startedAt: last.createdAt, endedAt: last.endedAt ?? null, counts: last.counts ?? null, capacityWarning: last.capacity ?? null } : null,
    dataAge: reportAt ? { newestReportAt: reportAt, seconds: Math.max(0, Math.floor((now.getTime() - reportAt.getTime()) / 1000)) } : null,
  };
}
