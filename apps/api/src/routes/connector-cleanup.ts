/**
 * What goes with a deleted connector. Its schedule, always: the BullMQ job schedulers of the sync
 * queue that carry its id (found by their data, so this does not depend on how the scheduler app
 * names them; the scheduler app would also drop them within seconds since the connector is gone).
 * Its data only on purge: runs (their stored report files and staged batches) and ingested-report
 * records (and their files); and the
 * network's hosts and findings when no other connector feeds the same network (hosts and findings
 * belong to the network, not to one connector).
 */
import { randomUUID } from 'node:crypto';
import { schedulerId } from '@qpc/jobs';
import type { ConnectorDoc } from '@qpc/store/db';
import { acquireSyncLock, deleteRunsOfConnector, releaseSyncLock } from '@qpc/store/pipeline';
import { ApiError } from '../errors.ts';
import type { ServerDeps } from '../server.ts';

/** Sync-lock ids held by a delete (a sync's lock id is its job id, which never starts so). */
export const DELETE_LOCK_PREFIX = 'delete-';

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
  const runs = await deleteRunsOfConnector(deps.store, doc._id);
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

export interface DeleteResult {
  id: string;
  deleted: true;
  scheduleRemoved: number;
  purged: PurgeResult | null;
  /** true when this request finished a delete that an earlier one left half-done */
  resumed: boolean;
}

/**
 * Delete a connector, and its data on purge, so that a failure half-way never strands data: the delete
 * takes the connector's sync lock (refused with 409 while a sync holds it, so no run writes under a
 * purge and none starts during one), marks the connector as deleting, removes its schedule and data
 * (each step idempotent), and removes the connector document last. A delete that failed half-way leaves
 * the connector marked and its lock held: repeating the request finishes it.
 */
export async function deleteConnector(deps: ServerDeps, doc: ConnectorDoc, opts: { purge: boolean }): Promise<DeleteResult> {
  const { store } = deps;
  const resumed = Boolean(doc.deleting);
  const lockId = doc.deleting?.lockId ?? `${DELETE_LOCK_PREFIX}${randomUUID()}`;
  const lock = await acquireSyncLock(store, doc._id, lockId);
  let heldId = lockId;
  if (!lock.acquired) {
    if (!lock.holder.syncId.startsWith(DELETE_LOCK_PREFIX)) {
      throw new ApiError(409, 'SYNC_RUNNING', `a sync of this connector is running (${lock.holder.syncId}): delete it once the sync has ended`);
    }
    heldId = lock.holder.syncId; // another delete request of the same connector: the steps are idempotent
  }
  // a purge asked once stays a purge: a repeated plain delete must not leave the purge's data behind
  const purge = opts.purge || Boolean(doc.deleting?.purge);
  const now = new Date();
  await store.col.connectors.updateOne({ _id: doc._id }, { $set: { deleting: { purge, lockId: heldId, at: doc.deleting?.at ?? now } } });
  const scheduleRemoved = await removeSchedule(deps, doc._id);
  const purged = purge ? await purgeConnectorData(deps, doc) : null;
  await store.col.connectors.deleteOne({ _id: doc._id });
  await releaseSyncLock(store, doc._id, heldId);
  return { id: doc._id, deleted: true, scheduleRemoved, purged, resumed };
}
