/**
 * What goes with a deleted connector. Its schedule, always: the BullMQ job schedulers of the sync
 * queue that carry its id (found by their data, so this does not depend on how the scheduler app
 * names them; the scheduler app would also drop them within seconds since the connector is gone).
 * Its data only on purge: runs (their stored report files and staged batches) and ingested-report
 * records (and their files); and the
 * network's hosts and findings when no other connector feeds the same network (hosts and findings
 * belong to the network, not to one connector).
 */
import { schedulerId } from '@qpc/jobs';
import type { ConnectorDoc } from '@qpc/store';
import type { ServerDeps } from '../server.ts';

export async function removeSchedule(deps: ServerDeps, connectorId: string): Promise<number> {
  const queue = deps.queues.sync;
  let removed = (await queue.removeJobScheduler(schedulerId(connectorId))) ? 1 : 0;
  // and any other scheduler that would sync this connector (an older naming, a hand-made one)
  const schedulers = await queue.getJobSchedulers(0, -1);
  for (const s of schedulers) {
    const data = (s.template?.data ?? {}) as { connectorId?: unknown };
    if (data.connectorId === connectorId || s.key.includes(connectorId)) {
      if (await queue.removeJobScheduler(s.key)) removed += 1;
    }
  }
  return removed;
}

export interface PurgeResult {
  runs: number;
  reports: number;
  files: number;
  hosts: number;
  findings: number;
  /** false when another connector feeds the same network */
  networkPurged: boolean;
}

export async function purgeConnectorData(deps: ServerDeps, doc: ConnectorDoc): Promise<PurgeResult> {
  const { col, bucket } = deps.store;
  // stored report files: those of ingested reports and those of runs that never got that far (a failed
  // or partial run keeps its file for a retry)
  const reports = await col.reports.find({ connectorId: doc._id }, { projection: { fileId: 1 } }).toArray();
  const runDocs = await col.runs.find({ connectorId: doc._id }, { projection: { _id: 1, file: 1 } }).toArray();
  const fileIds = new Set<string>();
  for (const r of reports) if (r.fileId) fileIds.add(r.fileId);
  for (const r of runDocs) if (r.file?.id) fileIds.add(r.file.id);
  let files = 0;
  for (const id of fileIds) {
    const f = await bucket.find({ _id: id as never }).toArray();
    if (f.length) {
      await bucket.delete(id as never);
      files += 1;
    }
  }
  // write batches a run staged and did not get to write
  const runIds = runDocs.map((r) => r._id);
  if (runIds.length) await col.batches.deleteMany({ runId: { $in: runIds } });
  const runs = (await col.runs.deleteMany({ connectorId: doc._id })).deletedCount;
  const reportsDeleted = (await col.reports.deleteMany({ connectorId: doc._id })).deletedCount;
  const shared = await col.connectors.countDocuments({ network: doc.network, _id: { $ne: doc._id } });
  let hosts = 0;
  let findings = 0;
  if (shared === 0) {
    findings = (await col.findings.deleteMany({ network: doc.network })).deletedCount;
    hosts = (await col.hosts.deleteMany({ network: doc.network })).deletedCount;
    await col.assessments.deleteMany({ network: doc.network });
    await col.networks.deleteOne({ _id: doc.network });
  }
  return { runs, reports: reportsDeleted, files, hosts, findings, networkPurged: shared === 0 };
}
