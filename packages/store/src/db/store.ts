/** The MongoDB handle every app shares: typed collections, the report bucket, one client. */
import { GridFSBucket, MongoClient, type Collection, type Db } from 'mongodb';
import {
  COLLECTIONS,
  REPORT_BUCKET,
  type AssessmentDoc,
  type ConnectorDoc,
  type FindingDoc,
  type HostDoc,
  type NetworkDoc,
  type ReportDoc,
  type RunDoc,
  type SyncLockDoc,
  type RewriteDoc,
} from './documents.ts';
import type { BatchDoc } from '../pipeline/batch-doc.ts';
import { dropUnusedIndexes, ensureIndexes, indexesFor } from './indexes.ts';
import { DEFAULT_BULK_SIZE, detectDbMode, MAX_BULK_SIZE, type DbMode } from './db-mode.ts';

export interface Collections {
  connectors: Collection<ConnectorDoc>;
  runs: Collection<RunDoc>;
  reports: Collection<ReportDoc>;
  hosts: Collection<HostDoc>;
  findings: Collection<FindingDoc>;
  networks: Collection<NetworkDoc>;
  assessments: Collection<AssessmentDoc>;
  batches: Collection<BatchDoc>;
  syncLocks: Collection<SyncLockDoc>;
  /** ferretdb mode: whole documents about to replace theirs (see rewrite-docs.ts) */
  rewrites: Collection<RewriteDoc>;
}

export interface Store {
  db: Db;
  col: Collections;
  /** GridFS bucket of downloaded report files */
  bucket: GridFSBucket;
  /** the shape of the write path's statements (db-mode.ts) */
  mode: DbMode;
  /** keyed statements per bulk in mongodb mode */
  bulkSize: number;
}

export interface StoreOptions {
  mode?: DbMode;
  bulkSize?: number;
}

export function createStore(db: Db, opts: StoreOptions = {}): Store {
  const col: Collections = {
    connectors: db.collection<ConnectorDoc>(COLLECTIONS.connectors),
    runs: db.collection<RunDoc>(COLLECTIONS.runs),
    reports: db.collection<ReportDoc>(COLLECTIONS.reports),
    hosts: db.collection<HostDoc>(COLLECTIONS.hosts),
    findings: db.collection<FindingDoc>(COLLECTIONS.findings),
    networks: db.collection<NetworkDoc>(COLLECTIONS.networks),
    assessments: db.collection<AssessmentDoc>(COLLECTIONS.assessments),
    batches: db.collection<BatchDoc>(COLLECTIONS.batches),
    syncLocks: db.collection<SyncLockDoc>(COLLECTIONS.syncLocks),
    rewrites: db.collection<RewriteDoc>(COLLECTIONS.rewrites),
  };
  const bulkSize = Math.max(1, Math.min(MAX_BULK_SIZE, opts.bulkSize ?? DEFAULT_BULK_SIZE));
  return { db, col, bucket: new GridFSBucket(db, { bucketName: REPORT_BUCKET }), mode: opts.mode ?? 'mongodb', bulkSize };
}

/**
 * Connect, create every index, return the store and the client (close it on shutdown).
 * The database is the one named in the URL (default `qpc`).
 */
export async function connectStore(
  url: string,
  opts: { ensureIndexes?: boolean; /** forced (config QPC_DB_MODE); else asked of the server */ mode?: DbMode; bulkSize?: number; /** command monitoring on (statement-count.ts) */ monitorCommands?: boolean } = {},
): Promise<{ client: MongoClient; store: Store }> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000, monitorCommands: opts.monitorCommands ?? false });
  await client.connect();
  const mode = opts.mode ?? (await detectDbMode(client.db()));
  const store = createStore(client.db(), { mode, bulkSize: opts.bulkSize });
  if (opts.ensureIndexes !== false) {
    await ensureIndexes(store.db, indexesFor(mode));
    await dropUnusedIndexes(store.db, mode);
  }
  return { client, store };
}
