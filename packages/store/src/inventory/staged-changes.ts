/**
 * The changed findings of a written batch, staged for finalize as one deflated BSON blob in the batch's
 * done mark (one statement, the done mark's own): per finding its _id, key, the status it was read with,
 * and the new report-derived fields with their hash. Finalize applies them against the documents as they
 * are then (apply-changes.ts), so applying twice changes nothing the second time.
 */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { Binary, BSON } from 'mongodb';
import type { FindingStatus, TestStatus } from '@qpc/domain';
import type { FindingDoc } from '../db/documents.ts';
import { StoreError } from '../db/errors.ts';

export type FindingContent = Pick<
  FindingDoc,
  | 'hostKey' | 'hostId' | 'ip' | 'hostname' | 'tags' | 'scanner' | 'policyId' | 'policyTitle' | 'controlId' | 'title' | 'technology'
  | 'technologyId' | 'instance' | 'severity' | 'criticalityLabel' | 'criticalityValue' | 'expected' | 'actual' | 'rationale'
  | 'remediation' | 'evaluationDate' | 'exception'
> & { testStatus: TestStatus };

export interface StagedChange {
  /** the finding's _id */
  i: string;
  /** its finding key */
  k: string;
  /** its status when the batch read it */
  s: FindingStatus;
  /** content hash of `f` */
  c: string;
  /** the report-derived fields */
  f: FindingContent;
}

export function encodeChanges(changes: StagedChange[]): Binary | null {
  if (changes.length === 0) return null;
  return new Binary(deflateRawSync(BSON.serialize({ changes }), { level: constants.Z_BEST_SPEED }));
}

export function decodeChanges(blob: Binary | null | undefined, what: string): StagedChange[] {
  if (!blob) return [];
  try {
    const doc = BSON.deserialize(inflateRawSync(blob.buffer));
    if (!Array.isArray(doc.changes)) throw new Error('no changes list');
    return doc.changes as StagedChange[];
  } catch (err) {
    throw new StoreError('BATCH_UNREADABLE', `the staged changes of ${what} cannot be decoded: ${(err as Error).message}`, false);
  }
}
