/**
 * The console's first page and a connector's chart: posture per network (open findings by severity,
 * pass rate per policy, most failing controls), stale connectors (freshness.ts), failed runs of the last 7 days; and
 * per run of a connector what it created, closed and reopened.
 */
import type { ConnectorDoc } from '@qpc/store/db';
import { openBySeverity, postureByNetwork } from '../queries/posture.ts';
import type { ServerDeps } from '../server.ts';
import { idParams } from './connector-schemas.ts';
import { connectorStatus } from './connector-status.ts';
import { findConnector } from './connectors.ts';
import type { RouteTable } from './registry.ts';

const DAY_S = 24 * 3600;
const CHART_RUNS = 30;

export function overviewRoutes(table: RouteTable, deps: ServerDeps) {
  const { connectors, runs, findings } = deps.store.col;

  table.add({
    method: 'get',
    path: '/api/overview',
    tag: 'overview',
    summary: 'Posture per network (open findings by severity, pass rate per policy, top failing controls), stale connectors, failed runs of the last 7 days',
    role: 'viewer',
    handle: async () => {
      const now = new Date();
      const all: ConnectorDoc[] = await connectors.find({}).sort({ nameLower: 1, _id: 1 }).toArray();
      const byNetwork = new Map<string, string[]>();
      for (const c of all) byNetwork.set(c.network, [...(byNetwork.get(c.network) ?? []), c._id]);
      const networks = [...byNetwork.keys()].sort();
      const [posture, statuses, failed] = await Promise.all([
        postureByNetwork(findings, networks),
        Promise.all(all.map((c) => connectorStatus(deps, c, now))),
        runs
          .find({ state: { $in: ['failed', 'partial'] }, createdAt: { $gte: new Date(now.getTime() - 7 * DAY_S * 1000) } }, { projection: { _id: 1, connectorId: 1, state: 1, endedAt: 1, error: 1 } })
          .sort({ createdAt: -1, _id: -1 })
          .limit(100)
          .toArray(),
      ]);
      return {
        networks: networks.map((network) => ({ network, connectors: byNetwork.get(network)!, ...posture.get(network)! })),
        staleConnectors: all
          .map((c, i) => ({ c, s: statuses[i]! }))
          .filter(({ s }) => s.stale)
          .map(({ c, s }) => ({ id: c._id, name: c.name, dataAgeSeconds: s.dataAge, staleReason: s.staleReason })),
        failedRuns7d: failed.map((r) => ({
          id: r._id,
          connectorId: r.connectorId,
          state: r.state,
          endedAt: r.endedAt ?? null,
          error: r.error ? { class: r.error.class, message: r.error.message, stage: r.error.stage } : null,
        })),
      };
    },
  });

  table.add({
    method: 'get',
    path: '/api/connectors/:id/runs/chart',
    tag: 'overview',
    summary: "A connector's last 30 runs, oldest first (findings created, closed, reopened, closed by URBA), and its network's open findings by severity",
    role: 'viewer',
    params: idParams,
    responses: { 404: 'no such connector' },
    handle: async ({ params }) => {
      const c = await findConnector(deps, params.id);
      const [last, open] = await Promise.all([
        runs.find({ connectorId: c._id }, { projection: { _id: 1, createdAt: 1, counts: 1 } }).sort({ createdAt: -1, _id: -1 }).limit(CHART_RUNS).toArray(),
        openBySeverity(findings, c.network),
      ]);
      return {
        runs: last.reverse().map((r) => ({
          runId: r._id,
          at: r.createdAt,
          created: r.counts?.findingsCreated ?? 0,
          closed: r.counts?.findingsClosed ?? 0,
          reopened: r.counts?.findingsReopened ?? 0,
          urbaClosed: r.counts?.urbaClosed ?? 0,
        })),
        openBySeverity: open,
      };
    },
  });
}
