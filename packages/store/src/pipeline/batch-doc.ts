import type { Binary } from 'mongodb';
import type { FindingRecord, HostRecord } from '@qpc/pc-report';

/**
 * A write batch staged by the parse worker; the upsert job carries only (runId, seq).
 *
 * Why stage in MongoDB rather than in the job: a batch of 1,000 findings is ~500 KB of records; carried
 * in Redis it is written and read twice more (add, fetch, keep-until-removed) and Redis memory grows
 * with the queue. Staged as ONE document it costs one insert on the database we write to anyway, Redis
 * holds only tiny jobs, and a retried job re-reads exactly the same records.
 *
 * The records are one compressed BSON blob (see batch-records.ts), not arrays of sub-documents: the
 * server stores, reads and rewrites one binary field instead of ~40,000 fields per batch (on FerretDB
 * each of those is converted on every read and rewrite of the document, and every look for a staged
 * batch reads all of them).
 */
export interface BatchDoc {
  _id: string; // `${runId}:${seq}`
  runId: string;
  seq: number;
  /** deflated BSON of { hosts, findings }; null once the batch is written */
  records: Binary | null;
  /** how many records the blob holds (readable without decoding it) */
  size: { hosts: number; findings: number };
  createdAt: Date;
  /** set when the batch has been written: its counts are final (a retried job skips it) */
  done: {
    at: Date;
    hosts: number;
    findings: number;
    /** status changes parked on the findings for finalize (earlier versions; 0 now) */
    pending?: number;
    /** findings this write created */
    created?: number;
    /** findings of this run another write created first (a retry, or a finding twice in the report) */
    createdBefore?: number;
    /** existing findings the report does not change (not written) */
    unchanged?: number;
    /** existing findings whose content or status changes (in `changes`) */
    changed?: number;
    /** finding documents this write inserted */
    docsWritten?: number;
    /** existing hosts rewritten because their fields changed */
    hostsChanged?: number;
    /** 64-bit hashes of the finding keys of the batch, 8 bytes each (URBA: what the run saw) */
    seen?: Binary | null;
    /** the changed findings, staged for finalize (staged-changes.ts) */
    changes?: Binary | null;
    /** ferretdb mode: _ids of the existing assessments the batch met (12 bytes each), stamped by finalize */
    assessed?: Binary | null;
  } | null;
  failed: { at: Date; message: string } | null;
}

/** The records of a staged batch, decoded. */
export interface BatchRecords {
  hosts: HostRecord[];
  findings: FindingRecord[];
}
