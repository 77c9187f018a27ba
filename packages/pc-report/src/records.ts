/**
 * The normalized records of a Policy Report: what the parser emits, what the simulator's generator
 * writes as ground truth, and what `qpc parse` prints (one JSON object per line). This is a contract
 * between packages: change it in one place, deliberately.
 *
 * Text fields are trimmed (inner line breaks kept); absent fields are null, never undefined, so that
 * records compare equal after a JSON round trip.
 */
import type { FindingStatus, Severity, TestStatus } from '@qpc/domain';

export interface HeaderRecord {
  type: 'header';
  /** root element name: COMPLIANCE_POLICY_REPORT or POLICY_REPORT */
  root: string;
  title: string | null;
  generatedAt: string | null;
  company: string | null;
  userName: string | null;
  userLogin: string | null;
  /** the report's own SUMMARY section, as given (null where absent) */
  declared: {
    totalHosts: number | null;
    totalControls: number | null;
    totalControlInstances: number | null;
    passed: number | null;
    failed: number | null;
    error: number | null;
  };
}

export interface PolicyRecord {
  type: 'policy';
  policyId: string;
  policyTitle: string | null;
}

/** Emitted once per host per policy in which the host appears. */
export interface HostRecord {
  type: 'host';
  hostKey: string;
  policyId: string;
  ip: string | null;
  qualysHostId: string | null;
  /** DNS name, else NetBIOS name */
  hostname: string | null;
  dns: string | null;
  netbios: string | null;
  os: string | null;
  trackingMethod: string | null;
  lastScanDate: string | null;
  /** deduplicated, original spelling kept, in order of first appearance */
  tags: string[];
}

export interface ExceptionInfo {
  status: string | null;
  assignee: string | null;
  endDate: string | null;
  createdBy: string | null;
  createdDate: string | null;
  modifiedBy: string | null;
  modifiedDate: string | null;
}

export interface FindingRecord {
  type: 'finding';
  findingKey: string;
  hostKey: string;
  ip: string | null;
  qualysHostId: string | null;
  policyId: string;
  policyTitle: string | null;
  controlId: string;
  statement: string | null;
  technology: string | null;
  technologyId: string | null;
  instance: string | null;
  testStatus: TestStatus;
  status: FindingStatus;
  /** mapped from criticalityValue; null when the value is missing or not 1-5 */
  severity: Severity | null;
  /** as given by the report, else the Qualys default label for the value, else 'Unknown' */
  criticalityLabel: string;
  criticalityValue: number | null;
  expected: string | null;
  actual: string | null;
  rationale: string | null;
  remediation: string | null;
  evaluationDate: string | null;
  previousStatus: string | null;
  firstFailDate: string | null;
  lastFailDate: string | null;
  firstPassDate: string | null;
  lastPassDate: string | null;
  causeOfFailure: string | null;
  controlReferences: string | null;
  deprecated: boolean | null;
  exception: ExceptionInfo | null;
}

export type RejectReason =
  | 'missing-control-id'
  | 'missing-host-identity'
  | 'unknown-test-status';

export interface RejectedRecord {
  type: 'rejected';
  reason: RejectReason;
  /** human-readable detail, with the line of the rejected element */
  message: string;
  line: number | null;
  policyId: string | null;
  hostKey: string | null;
  ip: string | null;
  controlId: string | null;
}

/** Always last. */
export interface SummaryRecord {
  type: 'summary';
  hosts: number;
  findings: number;
  passed: number;
  failed: number;
  error: number;
  rejected: number;
  policies: number;
  bytes: number;
  /** invalid UTF-8 sequences met (each decoded as U+FFFD) */
  invalidUtf8: number;
}

export type ReportRecord =
  | HeaderRecord
  | PolicyRecord
  | HostRecord
  | FindingRecord
  | RejectedRecord
  | SummaryRecord;
