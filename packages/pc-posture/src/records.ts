/**
 * What the posture parser emits: the host and finding records of @qpc/pc-report (same keys, same
 * fields), policy records, rejected rows and a summary with the paging warning. One estate gives one
 * set of findings whether it was read from a Policy Report or from the Compliance Posture Info API.
 *
 * Fields only one source carries (a posture record leaves them null / empty):
 * - report only: host `lastScanDate`, host `tags`, finding `exception`, finding `deprecated`, and the
 *   header record (title, company, declared totals); `policyTitle` only when the caller passes the
 *   titles of the policy list (`policyTitles`).
 * - posture only, not in the records: the row `ID`, `POSTURE_MODIFIED_DATE`, the DPD descriptions.
 */
import type { FindingRecord, HostRecord, PolicyRecord, RejectReason, SummaryRecord } from '@qpc/pc-report';

export type { FindingRecord, HostRecord, PolicyRecord } from '@qpc/pc-report';

export type PostureRejectReason =
  | RejectReason
  /** the row's HOST_ID is not in the glossary's HOST_LIST */
  | 'unknown-host'
  /** the row's CONTROL_ID is not in the glossary's CONTROL_LIST */
  | 'unknown-control'
  /** the row's TECHNOLOGY_ID is not in the glossary's TECHNOLOGY_LIST (the technology is part of the key) */
  | 'unknown-technology'
  /** no POLICY_ID in the row, no POLICY around it, and no `policyId` option */
  | 'missing-policy-id';

export interface PostureRejectedRecord {
  type: 'rejected';
  reason: PostureRejectReason;
  /** human-readable, with the row's line and posture ID */
  message: string;
  line: number | null;
  policyId: string | null;
  hostKey: string | null;
  ip: string | null;
  controlId: string | null;
}

/** The WARNING of a truncated answer (CODE 1980): the next page starts at `nextIdMin`. */
export interface PagingWarning {
  code: string | null;
  text: string | null;
  url: string | null;
  /** the `id_min` parameter of the URL, or null */
  nextIdMin: string | null;
}

export interface PostureSummaryRecord extends SummaryRecord {
  /** INFO rows read (findings + rejected) */
  rows: number;
  /** the paging warning, or null on the last page */
  paging: PagingWarning | null;
}

export type PostureRecord = PolicyRecord | HostRecord | FindingRecord | PostureRejectedRecord | PostureSummaryRecord;
