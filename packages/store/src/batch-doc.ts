import type { FindingRecord, HostRecord } from '@qpc/pc-report';

/**
 * A write batch staged by the parse worker; the upsert job carries only (runId, seq).
 *
 * Why stage in MongoDB rather than in the job: a batch of 1,000 findings is ~500 KB of JSON; carried in
 * Redis it is written and read twice more (add, fetch, keep-until-removed) and Redis memory grows with
 * the queue. Staged as ONE document it costs one insert on the database we write to anyway, Redis
 * holds only tiny jobs, and a retried job re-reads exactly the same records.
 */
export interface BatchDoc {
  _id: string; // `${runId}:${seq}`
  runId: string;
  seq: number;
  hosts: HostRecord[];
  findings: FindingRecord[];
  createdAt: Date;
  /** set when the batch has been written: its counts are final (a retried job skips it) */
  done: { at: Date; hosts: number; findings: number; /** status changes parked for finalize */ pending?: number } | null;
  failed: { at: Date; message: string } | null;
}
