/**
 * Every index is created at start by ensureIndexes() (createIndexes is idempotent). The unique ones
 * are what make the pipeline's upserts exactly-once: a job run twice meets the natural key.
 */
import type { Db } from 'mongodb';
import { COLLECTIONS as C, REPORT_BUCKET } from './documents.ts';
import type { IndexSpec } from './index-spec.ts';
import { QUERY_INDEXES } from './query-indexes.ts';
import type { DbMode } from './db-mode.ts';

export type { IndexSpec };

export const PIPELINE_INDEXES: IndexSpec[] = [
  { collection: C.connectors, key: { nameLower: 1 }, name: 'name_unique', unique: true },
  { collection: C.runs, key: { connectorId: 1, reportId: 1, attempt: 1 }, name: 'run_unique', unique: true },
  { collection: C.runs, key: { connectorId: 1, createdAt: -1 }, name: 'runs_by_connector' },
  { collection: C.runs, key: { syncId: 1, index: 1 }, name: 'runs_by_sync' },
  { collection: C.runs, key: { state: 1, createdAt: -1 }, name: 'runs_by_state' },
  { collection: C.reports, key: { connectorId: 1, reportId: 1 }, name: 'report_unique', unique: true },
  { collection: C.hosts, key: { network: 1, hostKey: 1 }, name: 'host_unique', unique: true },
  { collection: C.hosts, key: { network: 1, ip: 1 }, name: 'hosts_by_ip' },
  { collection: C.hosts, key: { network: 1, firstSeenRunId: 1 }, name: 'hosts_by_first_run' },
  { collection: C.hosts, key: { network: 1, lastRunId: 1 }, name: 'hosts_by_last_run' },
  { collection: C.findings, key: { network: 1, findingKey: 1 }, name: 'finding_unique', unique: true },
  { collection: C.findings, key: { network: 1, hostKey: 1, policyId: 1 }, name: 'findings_by_host_policy' },
  { collection: C.findings, key: { network: 1, status: 1 }, name: 'findings_by_status' },
  { collection: C.findings, key: { firstSeenRunId: 1 }, name: 'findings_by_first_run' },
  { collection: C.findings, key: { statusRunId: 1, statusReason: 1 }, name: 'findings_by_status_run' },
  { collection: C.findings, key: { 'pending.runId': 1 }, name: 'findings_by_pending_run' },
  { collection: C.assessments, key: { network: 1, hostKey: 1, policyId: 1 }, name: 'assessment_unique', unique: true },
  { collection: C.assessments, key: { runId: 1, policyId: 1 }, name: 'assessments_by_run' },
  { collection: C.batches, key: { runId: 1, seq: 1 }, name: 'batch_unique', unique: true },
  // report retention walks a connector's stored files newest first (report-retention.ts)
  { collection: `${REPORT_BUCKET}.files`, key: { 'metadata.connectorId': 1, uploadDate: -1 }, name: 'report_files_by_connector' },
];

/** The pipeline's indexes plus those the API's queries need (packages/store/src/query-indexes.ts). */
export function allIndexes(): IndexSpec[] {
  return [...PIPELINE_INDEXES, ...QUERY_INDEXES];
}

/**
 * The indexes a mode keeps. MongoDB: all of them. FerretDB 1.24 (db-mode.ts): only the unique ones and
 * TTL ones. FerretDB serves no filter or sort from a secondary index (it compares `_jsonb->'field' @>`
 * values, which its btree indexes cannot serve), so there they only cost writes: inserting 10,000
 * finding documents took 18.2 s with the 18 indexes of findings and 8.5 s with its unique one alone
 * (PostgreSQL backend, loaded machine, same run).
 */
export function indexesFor(mode: DbMode, specs: IndexSpec[] = allIndexes()): IndexSpec[] {
  return mode === 'mongodb' ? specs : specs.filter((s) => s.unique || s.expireAfterSeconds !== undefined);
}

/** ferretdb mode: the indexes of allIndexes() that indexesFor() leaves out, dropped where they exist. */
export async function dropUnusedIndexes(db: Db, mode: DbMode): Promise<void> {
  if (mode === 'mongodb') return;
  const keep = new Set(indexesFor(mode).map((s) => `${s.collection}|${s.name}`));
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const s of allIndexes()) {
    if (keep.has(`${s.collection}|${s.name}`) || !existing.has(s.collection)) continue;
    // another process starting at the same time may have dropped it first
    await db
      .collection(s.collection)
      .dropIndex(s.name)
      .catch(() => undefined);
  }
}

/**
 * Several processes start at once and all call this: a lost race (another process created the index
 * between our listing and our create) is retried against a fresh listing.
 */
export async function ensureIndexes(db: Db, specs: IndexSpec[] = allIndexes()): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await createMissingIndexes(db, specs);
      return;
    } catch (err) {
      if (attempt >= 4) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

async function createMissingIndexes(db: Db, specs: IndexSpec[]): Promise<void> {
  const byCollection = new Map<string, IndexSpec[]>();
  for (const s of specs) byCollection.set(s.collection, [...(byCollection.get(s.collection) ?? []), s]);
  const existingCollections = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const [collection, list] of byCollection) {
    // FerretDB 1.24 drops the connection when createIndexes names an index that already exists:
    // create only the missing ones.
    const existing = existingCollections.has(collection)
      ? new Set((await db.collection(collection).indexes()).map((i) => i.name))
      : new Set<string>();
    const missing = list.filter((s) => !existing.has(s.name));
    if (missing.length === 0) continue;
    await db.collection(collection).createIndexes(
      missing.map((s) => ({
        key: s.key,
        name: s.name,
        ...(s.unique ? { unique: true } : {}),
        ...(s.expireAfterSeconds !== undefined ? { expireAfterSeconds: s.expireAfterSeconds } : {}),
      })),
    );
  }
}
