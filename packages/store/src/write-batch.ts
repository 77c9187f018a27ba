/**
 * Write one batch: hosts, host x policy assessments and findings, each as ONE unordered bulkWrite of
 * upserts keyed on the natural keys (unique indexes; a document is addressed by the _id its key gives,
 * see keyedUpdate), so a batch written twice gives the same documents.
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

  // Existing documents are addressed by their _id (the only filter FerretDB answers without reading the
  // whole collection); a host re-keyed by resolveHostIdentities keeps its first _id, so ids are looked
  // up by natural key, and a new document gets the stable id of its key.
  const refKeys = [...new Set([...hostByKey.keys(), ...findings.map((f) => f.hostKey)])];
  const hostDocs = refKeys.length
    ? await store.col.hosts
        .find({ network, hostKey: { $in: refKeys } }, { batchSize: ONE_BATCH, projection: { _id: 1, hostKey: 1, hostname: 1, tags: 1 } })
        .toArray()
    : [];
  const hostInfo = new Map(hostDocs.map((h) => [h.hostKey, h]));

  const hostOps: AnyBulkWriteOperation<HostDoc>[] = [...hostByKey.values()].map((h) =>
    keyedUpdate<HostDoc>(
      { _id: hostInfo.get(h.hostKey)?._id ?? hostId(network, h.hostKey) },
      {
        $set: {
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
        },
        $setOnInsert: { network, hostKey: h.hostKey, firstSeen: now, firstSeenRunId: runId },
        $addToSet: { sources: SCANNER },
      },
      { upsert: true },
    ),
  );
  if (hostOps.length) await store.col.hosts.bulkWrite(hostOps, { ordered: false });

  const assessmentOps: AnyBulkWriteOperation<AssessmentDoc>[] = hosts.map((h) =>
    keyedUpdate<AssessmentDoc>(
      { _id: stableId('assessment', network, h.hostKey, h.policyId) },
      { $set: { runId }, $setOnInsert: { network, hostKey: h.hostKey, policyId: h.policyId } },
      { upsert: true },
    ),
  );
  if (assessmentOps.length) await store.col.assessments.bulkWrite(assessmentOps, { ordered: false });

  if (findings.length === 0) return { hosts: hosts.length, findings: 0, pending: 0 };

  const existing = await store.col.findings
    .find({ network, findingKey: { $in: findings.map((f) => f.findingKey) } }, { batchSize: ONE_BATCH, projection: { _id: 1, findingKey: 1, status: 1 } })
    .toArray();
  const prev = new Map(existing.map((f) => [f.findingKey, f]));

  let pending = 0;
  const ops: AnyBulkWriteOperation<FindingDoc>[] = [];
  for (const f of findings) {
    const h = hostInfo.get(f.hostKey);
    const rec = hostByKey.get(f.hostKey);
    const fields = {
      hostKey: f.hostKey,
      hostId: h?._id ?? hostId(network, f.hostKey),
      ip: f.ip,
      hostname: rec ? rec.hostname : (h?.hostname ?? null),
      tags: rec ? rec.tags : (h?.tags ?? []),
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
    const old = prev.get(f.findingKey);
    const { status, change } = nextStatus(old?.status ?? null, f.testStatus);
    if (!old) {
      ops.push(
        keyedUpdate<FindingDoc>(
          { _id: findingId(network, f.findingKey) },
          {
            $set: { ...fields, testStatus: f.testStatus, pending: null },
            $setOnInsert: {
              network,
              findingKey: f.findingKey,
              status,
              firstSeen: now,
              firstSeenRunId: runId,
              closedAt: status === 'Closed' ? now : null,
              closedReason: status === 'Closed' ? 'passed' : null,
              reopenCount: 0,
              statusRunId: runId,
              statusReason: 'new',
              history: [{ at: now, runId, from: null, to: status, reason: 'new' }],
            },
          },
          { upsert: true },
        ),
      );
    } else if (change === null) {
      ops.push(keyedUpdate<FindingDoc>({ _id: old._id }, { $set: { ...fields, testStatus: f.testStatus, pending: null } }));
    } else {
      pending++;
      ops.push(keyedUpdate<FindingDoc>({ _id: old._id }, { $set: { ...fields, pending: { runId, testStatus: f.testStatus, status } } }));
    }
  }
  await store.col.findings.bulkWrite(ops, { ordered: false });
  return { hosts: hosts.length, findings: findings.length, pending };
}
