/**
 * Write one batch: hosts, host x policy assessments and findings. Hosts and assessments are written as
 * an unordered insert of the documents as if new (their _id derives from the natural key, which also
 * has a unique index), then updates of those the server already had whose content changed.
 *
 * Findings are classified against their stored state (finding-state.ts) by content hash and status:
 * new ones are inserted with their mapped status; unchanged ones cost nothing; changed ones (content,
 * or a status the report changes) are not written here but returned as one compact blob that the
 * batch's done mark keeps, with the hashes of every finding key it saw, and the run's finalize applies
 * them (status changes only if the run is complete: a failed or partial run closes and reopens
 * nothing). A batch written twice, or by two writers at once, gives the same documents and the same
 * blob. Per-run counts are not incremented here (a retried write would count twice): finalize derives
 * them from the documents and from the batches' done marks.
 */
import { nextStatus, SCANNER } from '@qpc/domain';
import type { FindingRecord, HostRecord } from '@qpc/pc-report';
import { Binary, type AnyBulkWriteOperation } from 'mongodb';
import type { Store } from '../db/store.ts';
import type { AssessmentDoc, FindingDoc, HostDoc } from '../db/documents.ts';
import { stableId } from '../db/ids.ts';
import { ONE_BATCH } from '../db/one-batch.ts';
import { keyedUpdate } from './keyed-update.ts';
import { insertNew } from './insert-new.ts';
import { contentHash, keyHash, packHashes } from './content-hash.ts';
import { readByKeys, storedFindings, type StoredFinding } from './finding-state.ts';
import { encodeChanges, type StagedChange } from './staged-changes.ts';
import { slotOf } from '../db/db-mode.ts';
import { knownScopes, type KnownHost } from './known-scopes.ts';

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
  /** existing findings the report does not change: not written */
  unchanged: number;
  /** existing findings whose content or status the report changes: staged for finalize */
  changed: number;
  /** finding documents written by this batch (its inserts) */
  docsWritten: number;
  /** existing hosts whose fields the report changes (rewritten) */
  hostsChanged: number;
  /** 64-bit hashes of the batch's finding keys (URBA: what the run saw) */
  seen: Binary | null;
  /** the changed findings, for finalize (staged-changes.ts) */
  changes: Binary | null;
  /** ferretdb mode: the existing assessments the batch met, stamped with the run by finalize (one statement per run) */
  assessed: Binary | null;
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
  const { ids: hostIds, changed: hostsChanged } = await writeHosts(store, ctx, now, [...hostByKey.values()]);
  const assessed = await writeAssessments(store, ctx, now, hosts);
  if (findings.length === 0) return { hosts: hosts.length, findings: 0, pending: 0, created: 0, createdBefore: 0, unchanged: 0, changed: 0, docsWritten: 0, hostsChanged, seen: null, changes: null, assessed };

  // a finding's host is in the same batch (the parse stage stages a finding's host with it); a host
  // that is not is read back
  const missing = [...new Set(findings.map((f) => f.hostKey).filter((k) => !hostByKey.has(k)))];
  const readBack = missing.length
    ? await store.col.hosts.find({ network, hostKey: { $in: missing } }, { batchSize: ONE_BATCH, projection: { _id: 1, hostKey: 1, hostname: 1, tags: 1 } }).toArray()
    : [];
  const hostInfo = new Map<string, { _id: string; hostname: string | null; tags: string[] }>(readBack.map((h) => [h.hostKey, h]));
  for (const [key, h] of hostByKey) hostInfo.set(key, { _id: hostIds.get(key) ?? hostId(network, key), hostname: h.hostname, tags: h.tags });

  // the report-derived fields: what the content hash covers (test status included, write stamps not)
  const contentOf = (f: FindingRecord) => {
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
      testStatus: f.testStatus,
    } satisfies Partial<FindingDoc>;
  };

  const stored = await storedFindings(store, runId, network, findings.map((f) => f.findingKey));
  const fresh: FindingDoc[] = [];
  const freshOf: FindingRecord[] = [];
  const changes: StagedChange[] = [];
  let unchanged = 0;
  let createdBefore = 0;
  // new: inserted with its mapped status; unchanged: nothing at all; changed (content or status): staged
  // in the batch's done mark for finalize, which applies status changes only if the run is complete
  const classify = (f: FindingRecord, c: ReturnType<typeof contentOf>, hash: string, old: StoredFinding) => {
    if (old.createdByRun) createdBefore++;
    if (old.contentHash === hash && nextStatus(old.status, f.testStatus).change === null) unchanged++;
    else changes.push({ i: old._id, k: f.findingKey, s: old.status, c: hash, f: c });
  };
  const hashes = new Map<FindingRecord, { c: ReturnType<typeof contentOf>; hash: string }>();
  for (const f of findings) {
    const c = contentOf(f);
    const hash = contentHash(c);
    hashes.set(f, { c, hash });
    const old = stored.get(f.findingKey);
    if (old) {
      classify(f, c, hash, old);
      continue;
    }
    const { status } = nextStatus(null, f.testStatus);
    const _id = findingId(network, f.findingKey);
    freshOf.push(f);
    fresh.push({
      _id,
      network,
      slot: slotOf(_id) ?? 0,
      findingKey: f.findingKey,
      ...c,
      lastSeen: now,
      lastSeenRunId: runId,
      contentHash: hash,
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
    });
  }
  const dup = await insertNew(store.col.findings, fresh);
  if (dup.length > 0) {
    // refused as duplicates: another write of this run created them first (or a finding re-keyed with its host)
    const known = dup.map((i) => freshOf[i]!);
    const back = await readByKeys(store, runId, network, known.map((f) => f.findingKey));
    for (const f of known) {
      const old = back.get(f.findingKey);
      if (!old) throw new Error(`finding ${f.findingKey} of network ${network} was refused as a duplicate but cannot be found`);
      const { c, hash } = hashes.get(f)!;
      classify(f, c, hash, old);
    }
  }
  const created = fresh.length - dup.length;
  return {
    hosts: hosts.length,
    findings: findings.length,
    pending: 0,
    created,
    createdBefore,
    unchanged,
    changed: changes.length,
    docsWritten: created,
    hostsChanged,
    seen: new Binary(packHashes(findings.map((f) => keyHash(f.findingKey)))),
    changes: encodeChanges(changes),
    assessed,
  };
}

/**
 * Hosts: inserted when new; an existing host is rewritten only when its fields changed (content hash).
 * Returns hostKey -> _id of every host of the batch, and how many existing hosts changed.
 */
async function writeHosts(store: Store, ctx: WriteContext, now: Date, hosts: HostRecord[]): Promise<{ ids: Map<string, string>; changed: number }> {
  const { network, runId } = ctx;
  const ids = new Map<string, string>();
  const contentOf = (h: HostRecord) => ({
    qualysHostId: h.qualysHostId,
    ip: h.ip,
    hostname: h.hostname,
    dns: h.dns,
    netbios: h.netbios,
    os: h.os,
    trackingMethod: h.trackingMethod,
    lastScanDate: h.lastScanDate,
    tags: h.tags,
  });
  const fieldsOf = (h: HostRecord) => {
    const c = contentOf(h);
    return { ...c, contentHash: contentHash(c), lastSeen: now, lastRunId: runId };
  };
  // ferretdb mode: hosts known to exist are not offered to the insert (known-scopes.ts)
  const k = store.mode === 'ferretdb' ? await knownScopes(store, runId, network) : null;
  const existing = new Map<string, KnownHost>();
  const toInsert: HostRecord[] = [];
  for (const h of hosts) {
    const e = k?.hosts.get(h.hostKey);
    if (e) existing.set(h.hostKey, e);
    else toInsert.push(h);
  }
  const fresh: HostDoc[] = toInsert.map((h) => {
    ids.set(h.hostKey, hostId(network, h.hostKey));
    return { _id: hostId(network, h.hostKey), network, hostKey: h.hostKey, ...fieldsOf(h), sources: [SCANNER], firstSeen: now, firstSeenRunId: runId };
  });
  const dup = await insertNew(store.col.hosts, fresh);
  if (k) {
    const refused = new Set(dup);
    fresh.forEach((d, i) => refused.has(i) || k.hosts.set(d.hostKey, { _id: d._id, contentHash: d.contentHash, sources: d.sources }));
  }
  if (dup.length === 0 && existing.size === 0) return { ids, changed: 0 };
  // a host re-keyed by resolveHostIdentities keeps its first _id: look the ids up by natural key
  const known = dup.map((i) => toInsert[i]!);
  const docs = known.length
    ? await store.col.hosts.find({ network, hostKey: { $in: known.map((h) => h.hostKey) } }, { batchSize: ONE_BATCH, projection: { _id: 1, hostKey: 1, contentHash: 1, sources: 1 } }).toArray()
    : [];
  const byKey = new Map<string, KnownHost>(docs.map((d) => [d.hostKey, d]));
  for (const [key, e] of existing) byKey.set(key, e);
  const ops: AnyBulkWriteOperation<HostDoc>[] = [];
  const written: [string, KnownHost][] = [];
  for (const h of [...known, ...hosts.filter((x) => existing.has(x.hostKey))]) {
    const d = byKey.get(h.hostKey);
    if (!d) throw new Error(`host ${h.hostKey} of network ${network} was refused as a duplicate but cannot be found`);
    ids.set(h.hostKey, d._id);
    const fields = fieldsOf(h);
    written.push([h.hostKey, { _id: d._id, contentHash: fields.contentHash, sources: [...new Set([...(d.sources ?? []), SCANNER])] }]);
    // unchanged: no statement (FerretDB reads the whole collection for each)
    if (d.contentHash === fields.contentHash && d.sources?.includes(SCANNER)) continue;
    ops.push(keyedUpdate<HostDoc>({ _id: d._id }, { $set: fields, $addToSet: { sources: SCANNER } }));
  }
  for (let i = 0; i < ops.length; i += store.bulkSize) await store.col.hosts.bulkWrite(ops.slice(i, i + store.bulkSize), { ordered: false });
  // known as written once they are (a batch retried after a failed update writes it again)
  for (const [key, e] of written) k?.hosts.set(key, e);
  return { ids, changed: ops.length };
}

/**
 * Host x policy assessments of this run (URBA scope, the findings' last seen): inserted when new, else
 * stamped with the run and its date. ferretdb mode: the existing ones are not stamped here but returned
 * (their _ids, packed) for the batch's done mark, and finalize stamps them all with one statement
 * (stampAssessments): stamped per batch, `updateMany({network, _id: {$in}})` decoded every assessment of
 * the network each time, 3.3 s a batch at 5,550 hosts (345.9 s of a 100,000-finding re-sync's 514 s).
 */
async function writeAssessments(store: Store, ctx: WriteContext, now: Date, hosts: HostRecord[]): Promise<Binary | null> {
  const { network, runId } = ctx;
  const byId = new Map<string, AssessmentDoc>();
  for (const h of hosts) {
    const _id = stableId('assessment', network, h.hostKey, h.policyId);
    byId.set(_id, { _id, network, hostKey: h.hostKey, policyId: h.policyId, runId, at: now });
  }
  const docs = [...byId.values()];
  // ferretdb mode: assessments known to exist are not offered to the insert (known-scopes.ts)
  const k = store.mode === 'ferretdb' ? await knownScopes(store, runId, network) : null;
  const toInsert = k ? docs.filter((a) => !k.assessments.has(a._id)) : docs;
  const dup = await insertNew(store.col.assessments, toInsert);
  for (const a of toInsert) k?.assessments.add(a._id);
  const keys = dup.map((i) => toInsert[i]!);
  const known = k ? docs.filter((a) => !toInsert.includes(a)) : [];
  if (known.length > 0) {
    // 24 hex chars each; another shape (none written by this code) is stamped below instead
    const hex = known.filter((a) => HEX24.test(a._id));
    keys.push(...known.filter((a) => !HEX24.test(a._id)));
    if (keys.length > 0) await stampNow(store, network, runId, now, keys);
    return hex.length ? new Binary(Buffer.from(hex.map((a) => a._id).join(''), 'hex')) : null;
  }
  if (keys.length > 0) await stampNow(store, network, runId, now, keys);
  return null;
}

const HEX24 = /^[0-9a-f]{24}$/;

/** Assessments of `network` stamped with the run: by _id, then by natural key those stored under another _id. */
async function stampNow(store: Store, network: string, runId: string, now: Date, keys: AssessmentDoc[]): Promise<void> {
  // known or refused as duplicates: stamped by _id (one `$in`: FerretDB 1.24 evaluates an `$or` of natural keys
  // branch by branch on every assessment of the network, 1.4 s a batch at 1,110 hosts on a loaded machine),
  // then by natural key those stored under another _id; every one must be there
  const set = { $set: { runId, at: now } };
  const r1 = await store.col.assessments.updateMany({ network, _id: { $in: keys.map((a) => a._id) } }, set);
  if (r1.matchedCount === keys.length) return;
  const stamped = new Set((await store.col.assessments.find({ network, _id: { $in: keys.map((a) => a._id) } }, { batchSize: ONE_BATCH, projection: { _id: 1 } }).toArray()).map((a) => a._id));
  const rest = keys.filter((a) => !stamped.has(a._id));
  const r = await store.col.assessments.updateMany({ $or: rest.map((a) => ({ network, hostKey: a.hostKey, policyId: a.policyId })) }, set);
  if (r.matchedCount < rest.length) throw new Error(`${rest.length - r.matchedCount} assessment(s) of network ${network} were refused as duplicates but cannot be found`);
}
