/**
 * Auto URBA preview: what URBA would close now from the connector's last complete run (the newest
 * succeeded one, whose batches keep the keys it saw), with the finalizer's own candidate rule (urbaCandidates in @qpc/store) and
 * threshold. Reads only.
 */
import { DEFAULT_URBA_THRESHOLD } from '@qpc/domain';
import { ONE_BATCH } from '@qpc/store/db';
import { urbaCandidates } from '@qpc/store/inventory';
import type { ServerDeps } from '../server.ts';
import { idParams } from './connector-schemas.ts';
import { findConnector } from './connectors.ts';
import type { RouteTable } from './registry.ts';

const SAMPLE = 20;

export function urbaPreviewRoutes(table: RouteTable, deps: ServerDeps) {
  const { runs, findings } = deps.store.col;
  table.add({
    method: 'get',
    path: '/api/connectors/:id/urba/preview',
    tag: 'connectors',
    summary: 'What auto URBA would close from the last complete report: candidates, open findings, threshold, whether it would stop, a sample',
    role: 'viewer',
    params: idParams,
    responses: { 404: 'no such connector' },
    handle: async ({ params }) => {
      const c = await findConnector(deps, params.id);
      const threshold = c.urbaThreshold ?? deps.urbaThreshold ?? DEFAULT_URBA_THRESHOLD;
      const run = await runs.find({ connectorId: c._id, state: 'succeeded', reportId: { $ne: null } }).sort({ createdAt: -1, _id: -1 }).limit(1).next();
      let candidates = 0;
      let openBefore = await findings.countDocuments({ network: c.network, status: 'Open' });
      const sample: { id: string; hostKey: string; controlId: string; title: string | null }[] = [];
      if (run) {
        const found = await urbaCandidates(deps.store, run);
        candidates = found.ids.length;
        openBefore = found.openBefore;
        const ids = [...found.ids].sort().slice(0, SAMPLE);
        const docs = ids.length
          ? await findings.find({ _id: { $in: ids } }, { batchSize: ONE_BATCH, projection: { _id: 1, hostKey: 1, controlId: 1, title: 1 } }).sort({ _id: 1 }).toArray()
          : [];
        sample.push(...docs.map((d) => ({ id: d._id, hostKey: d.hostKey, controlId: d.controlId, title: d.title ?? null })));
      }
      return {
        runId: run?._id ?? null,
        reportId: run?.reportId ?? null,
        autoUrba: c.autoUrba,
        dryRun: c.urbaDryRun ?? false,
        candidates,
        openBefore,
        threshold,
        // decideUrba's rule: more than the threshold's share of the open findings stops URBA for review
        wouldStop: candidates > 0 && candidates > threshold * openBefore,
        sample,
      };
    },
  });
}
