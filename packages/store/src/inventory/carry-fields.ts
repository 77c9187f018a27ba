/**
 * Fields only Policy Reports carry (host lastScanDate and tags, finding exception): a posture record has
 * them null or empty. Written as they are, the first posture pull after a connector moved from reports
 * to posture would blank them and rewrite every host and finding. So before a posture batch is staged,
 * records of hosts and findings the network already holds take the stored values of those fields:
 * moving a connector from one source to the other writes nothing that did not change.
 *
 * Costs two keyed reads per batch, and only in a network where a report was ever ingested
 * (networkHasReportFields: one read per run); a network fed by posture alone pays nothing.
 */
import type { FindingRecord, HostRecord } from '@qpc/pc-report';
import type { Store } from '../db/store.ts';
import { ONE_BATCH } from '../db/one-batch.ts';

/** whether any host of the network carries a report-only field (a report was ingested into it) */
export async function networkHasReportFields(store: Store, network: string): Promise<boolean> {
  const h = await store.col.hosts.findOne({ network, lastScanDate: { $ne: null } }, { projection: { _id: 1 } });
  return h !== null;
}

/** Fill the report-only fields of posture records from the stored hosts and findings (in place). */
export async function carryReportOnlyFields(store: Store, network: string, hosts: HostRecord[], findings: FindingRecord[]): Promise<void> {
  const hostKeys = [...new Set([...hosts.map((h) => h.hostKey), ...findings.map((f) => f.hostKey)])];
  if (hostKeys.length > 0) {
    const stored = new Map(
      (await store.col.hosts.find({ network, hostKey: { $in: hostKeys } }, { batchSize: ONE_BATCH, projection: { _id: 0, hostKey: 1, lastScanDate: 1, tags: 1 } }).toArray()).map((h) => [h.hostKey, h]),
    );
    for (const h of hosts) {
      const s = stored.get(h.hostKey);
      if (!s) continue;
      if (h.lastScanDate === null) h.lastScanDate = s.lastScanDate ?? null;
      if (h.tags.length === 0) h.tags = s.tags ?? [];
    }
  }
  if (findings.length > 0) {
    const stored = new Map(
      (
        await store.col.findings
          .find({ network, findingKey: { $in: findings.map((f) => f.findingKey) }, exception: { $ne: null } }, { batchSize: ONE_BATCH, projection: { _id: 0, findingKey: 1, exception: 1 } })
          .toArray()
      ).map((f) => [f.findingKey, f.exception]),
    );
    for (const f of findings) {
      const e = stored.get(f.findingKey);
      if (f.exception === null && e) f.exception = { status: e.status, assignee: e.assignee, endDate: e.endDate, createdBy: null, createdDate: null, modifiedBy: null, modifiedDate: null };
    }
  }
}
