/**
 * Write one batch: hosts, host x policy assessments and findings. Each kind is written as an unordered
 * insert of the documents as if new (their _id derives from the natural key, which also has a unique
 * index), then one unordered bulk update of those the server already had (see insertNew, keyedUpdate),
 * so a batch written twice, or by two writers at once, gives the same documents.
 *
 * Status changes of existing findings are not applied here: they are parked in `pending` and applied
 * by the run's finalize only if the run is complete (a failed or partial run closes nothing and
 * reopens nothing). New findings are created with their mapped status. Per-run counts are not
 * incremented here (a retried write would count twice): finalize derives them from the documents
 * (firstSeenRunId, statusRunId) and from the batches' done marks.
 */
import { nextStatus, SCANNER } from '@qpc/domain';
import type { FindingRecord, HostRecord } from '@qpc/pc-report';
import type { AnyBulkWriteOperation } from 'mongodb';
import type { Store } from './store.ts';
import type { AssessmentDoc, FindingDoc, HostDoc } from './documents.ts';
import { stableId } from './ids.ts';
import { ONE_BATCH } from './one-batch.ts';
import { keyedUpdate } from './keyed-update.ts';
import { insertNew } from './insert-new.ts';

export interface WriteContext {
  runId: string;
  network: string;
  now?: Date;
}

export interface WriteResult {
  hosts: number;
  findings: number;
  /** findings whose status change waits for finalize */
  pending: number;
  /** findings this write created */
  created: number;
  /** findings refused as duplicates that this run had created already (an earlier write of the batch, or a finding twice in the report) */
  createdBefore: number;
}

export function hostId(network: string, hostKey: string): string {
  return stableId('host', network, hostKey);
}

export function findingId(network: string, key: string): string {
  return stableId('finding', network, key);
}

export async function writeBatch(store: Store, ctx: WriteContext, hosts: HostRecord[], findings: FindingRecord[]): Promise<WriteResult> {
  const now = ctx.now ?? new Date();
  const { network, runId } = ctx;

  // hosts: one record per host per policy; the last one of a host wins (they carry the same fields)
  const hostByKey = new Map<string, HostRecord>();
  for (const h of hosts) hostByKey.set(h.hostKey, h);
  const hostIds = await writeHosts(store, ctx, now, [...hostByKey.values()]);
  await writeAssessments(store, ctx, hosts);
  if (findings.length === 0) return { hosts: hosts.length, findings: 0, pending: 0, created: 0, createdBefore: 0 };

  // a finding's host is in the same batch (the parse stage stages a finding's host with it); a host
  // that is not is read back
  const missing = [...new Set(findings.map((f) => f.hostKey).filter((k) => !hostByKey.has(k)))];
  const readBack = missing.length
    ? await store.col.hosts.find({ network, hostKey: { $in: missing } }, { batchSize: ONE_BATCH, projection: { _id: 1, hostKey: 1, hostname: 1, tags: 1 } }).toArray()
    : [];
  const hostInfo = new Map<string, { _id: string; hostname: string | null; tags: string[] }>(readBack.map((h) => [h.hostKey, h]));
  for (const [key, h] of hostByKey) hostInfo.set(key, { _id: hostIds.get(key) ?? hostId(network, key), hostname: h.hostname, tags: h.tags });

  const fieldsOf = (f: FindingRecord) => {
    const h = hostInfo.get(f.hostKey);
    return {
      hostKey: f.hostKey,
      hostId: h?._id ?? hostId(network, f.hostKey),
      ip: f.ip,
      hostname: h?.hostname ?? null,
      tags: h?.tags ?? [],
      scanner: SCANNER,
      policyId: f.policyId,
      policyTitle: f.policyTitle,
      controlId: f.controlId,
      title: f.statement,
      technology: f.technology,
      technologyId: f.technologyId,
      instance: f.instance,
      severity: f.severity,
      criticalityLabel: f.criticalityLabel,
      criticalityValue: f.criticalityValue,
      expected: f.expected,
      actual: f.actual,
      rationale: f.rationale,
      remediation: f.remediation,
      evaluationDate: f.evaluationDate,
      exception: f.exception ? { status: f.exception.status, assignee: f.exception.assignee, endDate: f.exception.endDate } : null,
      lastSeen: now,
      lastSeenRunId: runId,
    } satisfies Partial<FindingDoc>;
  };

  // new findings first, as inserts with their mapped status
  const fresh: FindingDoc[] = findings.map((f) => {
    const { status } = nextStatus(null, f.testStatus);
    return {
      _id: findingId(network, f.findingKey),
      network,
      findingKey: f.findingKey,
      ...fieldsOf(f),
      testStatus: f.testStatus,
      pending: null,
      status,
      firstSeen: now,
      firstSeenRunId: runId,
      closedAt: status === 'Closed' ? now : null,
      closedReason: status === 'Closed' ? 'passed' : null,
      reopenCount: 0,
      statusRunId: runId,
      statusReason: 'new',
      history: [{ at: now, runId, from: null, to: status, reason: 'new' }],
    };
  });
  const dup = await insertNew(store.col.findings, fresh);
  if (dup.length === 0) return { hosts: hosts.length, findings: findings.length, pending: 0, created: fresh.length, createdBefore: 0 };

  // the others exist: read their status (and _id: a finding re-keyed with its host keeps its first one)
  const known = dup.map((i) => findings[i]!);
  const existing = await store.col.findings
    .find({ network, findingKey: { $in: known.map((f) => f.findingKey) } }, { batchSize: ONE_BATCH, projection: { _id: 1, findingKey: 1, status: 1, firstSeenRunId: 1 } })
    .toArray();
  const prev = new Map(existing.map((f) => [f.findingKey, f]));
  let pending = 0;
  let createdBefore = 0;
  const ops: AnyBulkWriteOperation<FindingDoc>[] = [];
  for (const f of known) {
    const old = prev.get(f.findingKey);
    if (!old) throw new Error(`finding ${f.findingKey} of network ${network} was refused as a duplicate but cannot be found`);
    if (old.firstSeenRunId === runId) createdBefore++;
    const { status, change } = nextStatus(old.status, f.testStatus);
    if (change === null) {
      ops.push(keyedUpdate<FindingDoc>({ _id: old._id }, { $set: { ...fieldsOf(f), testStatus: f.testStatus, pending: null } }));
    } else {
      // a status change waits for finalize (applied only if the run is complete)
      pending++;
      ops.push(keyedUpdate<FindingDoc>({ _id: old._id }, { $set: { ...fieldsOf(f), pending: { runId, testStatus: f.testStatus, status } } }));
    }
  }
  await store.col.findings.bulkWrite(ops, { ordered: false });
  return { hosts: hosts.length, findings: findings.length, pending, created: fresh.length - dup.length, createdBefore };
}

/** Hosts: inserted when new, else updated. Returns hostKey -> _id of every host written. */
async function writeHosts(store: Store, ctx: WriteContext, now: Date, hosts: HostRecord[]): Promise<Map<string, string>> {
  const { network, runId } = ctx;
  const ids = new Map<string, string>();
  const fieldsOf = (h: HostRecord) => ({
    qualysHostId: h.qualysHostId,
    ip: h.ip,
    hostname: h.hostname,
    dns: h.dns,
    netbios: h.netbios,
    os: h.os,
    trackingMethod: h.trackingMethod,
    lastScanDate: h.lastScanDate,
    tags: h.tags,
    lastSeen: now,
    lastRunId: runId,
  });
  const fresh: HostDoc[] = hosts.map((h) => {
    ids.set(h.hostKey, hostId(network, h.hostKey));
    return { _id: hostId(network, h.hostKey), network, hostKey: h.hostKey, ...fieldsOf(h), sources: [SCANNER], firstSeen: now, firstSeenRunId: runId };
  });
  const dup = await insertNew(store.col.hosts, fresh);
  if (dup.length === 0) return ids;
  // a host re-keyed by resolveHostIdentities keeps its first _id: look the ids up by natural key
  const known = dup.map((i) => hosts[i]!);
  const docs = await store.col.hosts
    .find({ network, hostKey: { $in: known.map((h) => h.hostKey) } }, { batchSize: ONE_BATCH, projection: { _id: 1, hostKey: 1 } })
    .toArray();
  for (const d of docs) ids.set(d.hostKey, d._id);
  const ops = known.map((h) => {
    const _id = docs.find((d) => d.hostKey === h.hostKey)?._id;
    if (!_id) throw new Error(`host ${h.hostKey} of network ${network} was refused as a duplicate but cannot be found`);
    return keyedUpdate<HostDoc>({ _id }, { $set: fieldsOf(h), $addToSet: { sources: SCANNER } });
  });
  await store.col.hosts.bulkWrite(ops, { ordered: false });
  return ids;
}

/** Host x policy assessments of this run (URBA scope): inserted when new, else stamped with the run. */
async function writeAssessments(store: Store, ctx: WriteContext, hosts: HostRecord[]): Promise<void> {
  const { network, runId } = ctx;
  const byId = new Map<string, AssessmentDoc>();
  for (const h of hosts) {
    const _id = stableId('assessment', network, h.hostKey, h.policyId);
    byId.set(_id, { _id, network, hostKey: h.hostKey, policyId: h.policyId, runId });
  }
  const docs = [...byId.values()];
  const dup = await insertNew(store.col.assessments, docs);
  if (dup.length === 0) return;
  // refused as duplicates: stamped by natural key (whatever their _id), and every one must be there
  const keys = dup.map((i) => docs[i]!);
  const r = await store.col.assessments.updateMany({ $or: keys.map((a) => ({ network, hostKey: a.hostKey, policyId: a.policyId })) }, { $set: { runId } });
  if (r.matchedCount < keys.length) throw new Error(`${keys.length - r.matchedCount} assessment(s) of network ${network} were refused as duplicates but cannot be found`);
}
