/**
 * MongoDB document types and collection names: the contract between the pipeline (writer) and the
 * REST API (reader). Field names are persisted data: rename deliberately.
 *
 * Ids are strings (not ObjectIds) so they travel unchanged through job data, URLs and logs.
 * Dates are BSON dates. No key contains a dot (FerretDB refuses them).
 */
import type { ConnectorSource, FindingStatus, PostureApiVersion, PostureSettings, PullKind, Schedule, Severity, TestStatus } from '@qpc/domain';
import type { EncryptedValue } from '@qpc/secrets';
import type { Binary } from 'mongodb';

export const COLLECTIONS = {
  connectors: 'connectors',
  runs: 'runs',
  reports: 'reports',
  hosts: 'hosts',
  findings: 'findings',
  networks: 'networks',
  /** one document per host x policy assessed by a run (URBA scope) */
  assessments: 'assessments',
  /** write batches staged by the parse worker for the upsert jobs (removed when the run ends) */
  batches: 'batches',
  /** one-sync-per-connector locks */
  syncLocks: 'sync_locks',
  /** ferretdb mode: the journal of a finalize's whole-document rewrites (removed once applied) */
  rewrites: 'rewrites',
} as const;

/** GridFS bucket holding downloaded report files (collections report_files.files / .chunks). */
export const REPORT_BUCKET = 'report_files';

/**
 * A connector's schedule: a cron expression or a preset (hourly, daily, weekly), with a time zone;
 * scheduleToCron() in @qpc/domain turns it into a cron pattern. Disabled or null: on-demand only.
 */
export type ConnectorSchedule = Schedule;

export interface ConnectorDoc {
  _id: string;
  name: string;
  /** name trimmed and lower-cased: unique index (FerretDB has no collation) */
  nameLower: string;
  url: string;
  username: string;
  /** AES-256-GCM; never returned by the API. Associated data: the connector id, and passwordFor when set */
  password: EncryptedValue;
  /**
   * The Qualys URL and user the password was saved for, bound into its associated data: the password
   * is only ever sent there (absent: saved before binding, associated data the connector id alone).
   */
  passwordFor?: { url: string; username: string };
  network: string;
  /** the report title prefix (source `policy-report`; empty for a posture connector) */
  reportTitlePrefix: string;
  /** where results are read (absent: `policy-report`, the connectors saved before the setting) */
  source?: ConnectorSource;
  /** the posture settings (source `posture`) */
  posture?: PostureSettings | null;
  schedule: ConnectorSchedule | null;
  autoUrba: boolean;
  /** URBA computes what it would close and records it in the run, but closes nothing */
  urbaDryRun?: boolean;
  /** fraction of the network's open findings above which URBA stops (default: config, 0.5) */
  urbaThreshold?: number;
  /** days after its newest assessment the connector's data is stale (default DEFAULT_STALE_AFTER_DAYS of @qpc/domain) */
  staleAfterDays?: number;
  /**
   * Set while a delete is under way (a tombstone): the delete holds the connector's sync lock under
   * `lockId`, so no sync starts, and a delete that stopped half-way is finished by repeating it.
   */
  deleting?: { purge: boolean; lockId: string; at: Date } | null;
  createdAt: Date;
  updatedAt: Date;
}

export type RunState =
  | 'queued'
  | 'fetching'
  | 'parsing'
  | 'writing'
  | 'finalizing'
  | 'succeeded'
  | 'no-new-report'
  | 'partial'
  | 'failed';

export const TERMINAL_RUN_STATES: readonly RunState[] = ['succeeded', 'no-new-report', 'partial', 'failed'];

export type RunTrigger = 'schedule' | 'on-demand' | 'retry';

export interface StageTiming {
  startedAt: Date | null;
  endedAt: Date | null;
  ms: number | null;
}

export interface RunCounts {
  bytes: number;
  hostsParsed: number;
  findingsParsed: number;
  hostsCreated: number;
  hostsUpdated: number;
  findingsCreated: number;
  findingsUpdated: number;
  findingsClosed: number;
  findingsReopened: number;
  urbaClosed: number;
  recordsRejected: number;
  batches: number;
  batchesWritten: number;
  batchesFailed: number;
  /** findings of the report whose stored document already said the same (no write) */
  findingsUnchanged?: number;
  /** existing findings whose content or status the report changed */
  findingsChanged?: number;
  /** finding documents inserted or rewritten by the run */
  docsWritten?: number;
}

export interface RunError {
  /** error class / code, e.g. QualysError:1965, REPORT_TRUNCATED */
  class: string;
  message: string;
  stage: 'sync' | 'fetch' | 'parse' | 'upsert' | 'finalize';
  at: Date;
}

export interface RunUrba {
  /** applied: closed; dry-run: computed only; threshold: stopped, run marked for review; skipped: why in reason */
  decision: 'applied' | 'dry-run' | 'threshold' | 'skipped' | 'off';
  reason: string | null;
  candidates: number;
  closed: number;
  openBefore: number;
  threshold: number;
  /** up to 50 finding ids that would close (dry run, threshold) */
  sample: string[];
}

export interface RunDoc {
  _id: string;
  connectorId: string;
  /** the sync (planning job) that created this run */
  syncId: string;
  trigger: RunTrigger;
  /** null for no-new-report runs */
  reportId: string | null;
  reportTitle: string | null;
  reportLaunchedAt: Date | null;
  /** 1 + earlier runs of this connector for the same reportId */
  attempt: number;
  network: string;
  state: RunState;
  /** order of this run among the runs of its sync (ingested one by one, oldest first) */
  index: number;
  /** reports skipped by the selection (older unseen ones of the same title) */
  skipped: { reportId: string; title: string; launchedAt: Date | null; reason: string }[];
  createdAt: Date;
  updatedAt: Date;
  endedAt: Date | null;
  timings: { fetch: StageTiming; parse: StageTiming; write: StageTiming; finalize: StageTiming };
  counts: RunCounts;
  rejected: { reason: string; count: number }[];
  /** Qualys calls made, 409s met, seconds waited on limits */
  qualys: { calls: number; conflicts409: number; waitedSec: number };
  /**
   * Counters only go up within a run (a re-run of a stage counts from zero again; setProgress keeps the
   * highest). `waiting`: where the run waits while it does (the parse on the writers), null otherwise.
   */
  /** bytesAnnounced: the report's size as its download announced it (Content-Length), before the file is stored */
  progress: { bytesDownloaded: number; bytesParsed: number; batchesWritten: number; bytesAnnounced?: number; waiting?: RunWaiting | null };
  /** set once the parse finished: how many batches were emitted, and the report's own counts */
  parse: { complete: boolean; batches: number; summary: ParseSummary | null } | null;
  /**
   * The newest assessment date the run read (`parse.summary.dataAsOf`), set when the run ends; null when
   * the source gave none. A connector's data age is counted from the newest of its complete runs'.
   */
  dataAsOf?: Date | null;
  /**
   * The downloaded report. `purgedAt`: when report retention (QPC_REPORT_RETENTION) removed the stored
   * file after the run ended; length and checksum stay as the record of what was read.
   */
  file: { id: string; length: number; sha256: string; etag: string | null; purgedAt?: Date | null } | null;
  urba: RunUrba | null;
  /** the run needs a person to look (URBA threshold reached) */
  review: boolean;
  /** times a failed or partial run was revived by a retried job */
  resumes: number;
  error: RunError | null;
  /** a posture pull (source `posture`); absent for a report run */
  posture?: RunPosture | null;
  /** set by finalize when the embedded database (FerretDB) holds more findings than it was measured to sync in time (db-mode.ts) */
  capacity?: CapacityWarning | null;
}

export interface CapacityWarning {
  /** findings of the run's report */
  findings: number;
  /** the measured capacity it exceeds */
  limit: number;
  message: string;
}

/** One stored page of a posture answer (GridFS, as a report file). */
export interface PosturePage {
  id: string;
  length: number;
  sha256: string;
  /** the policy ids the page's request asked for */
  policyIds: string[];
  /** id_min of the page's request (null: the first page of its policy group) */
  idMin: string | null;
  purgedAt?: Date | null;
}

/** What a posture run pulls, and how far its download got. */
export interface RunPosture {
  kind: PullKind;
  /** status_changes_since of an incremental pull */
  since: Date | null;
  /** why this kind (planPull) */
  reason: string;
  apiVersion: PostureApiVersion;
  /** every policy id asked for; asked in groups of at most 10 (policyGroups: one paged request each; FerretDB stores no nested arrays) */
  policyIds: string[];
  /** policy id -> title, from the policy list */
  titles: Record<string, string>;
  /** pages stored so far, in order */
  pages: PosturePage[];
  /** where the download goes on: group index and id_min; null once every page is stored */
  next: { group: number; idMin: string | null } | null;
  /** false when a page failed for good: the pages stored are ingested, the run closes nothing */
  complete: boolean;
}

/**
 * What the parse read: the source's counts, and `dataAsOf`, the newest assessment date read (ISO 8601
 * UTC; a Policy Report's generation date, a posture answer's newest evaluation date), null when the
 * source gives none.
 */
export interface ParseSummary {
  hosts?: number;
  findings?: number;
  rejected?: number;
  dataAsOf?: string | null;
  [k: string]: number | string | null | undefined;
}

/** The parse waits for `pending` staged batches to be written (backpressure, QPC_MAX_PENDING_BATCHES) since `since`. */
export interface RunWaiting {
  reason: 'batches';
  pending: number;
  since: Date;
}

export interface ReportDoc {
  _id: string; // `${connectorId}:${reportId}`
  connectorId: string;
  reportId: string;
  title: string;
  launchedAt: Date | null;
  /** the last run that ingested it successfully */
  runId: string;
  /** the stored file of that run; null once retention removed it (then filePurgedAt says when) */
  fileId: string | null;
  length: number;
  sha256: string;
  ingestedAt: Date;
  /** when report retention removed the stored file (null or absent: not removed) */
  filePurgedAt?: Date | null;
}

export interface HostDoc {
  _id: string;
  network: string;
  /** `qid:<Qualys host id>` or `ip:<ip>` */
  hostKey: string;
  qualysHostId: string | null;
  ip: string | null;
  hostname: string | null;
  dns: string | null;
  netbios: string | null;
  os: string | null;
  trackingMethod: string | null;
  lastScanDate: string | null;
  tags: string[];
  /** always contains QUALYSPC for hosts seen by this connector */
  sources: string[];
  firstSeen: Date;
  lastSeen: Date;
  firstSeenRunId: string;
  lastRunId: string;
  /** earlier keys of this host (an ip: key upgraded to qid:) */
  aliases?: string[];
  /** the ip: key whose findings are being re-keyed to this host (set with the merge, unset once they all are; host-identity.ts) */
  rekeyFrom?: string | null;
  /** hash of the report-derived fields (content-hash.ts); absent on documents of earlier versions */
  contentHash?: string;
}

export interface StatusChange {
  at: Date;
  runId: string;
  from: FindingStatus | null;
  to: FindingStatus;
  /** new | passed | reopened | urba */
  reason: 'new' | 'passed' | 'reopened' | 'urba';
}

export interface FindingDoc {
  _id: string;
  network: string;
  findingKey: string;
  hostKey: string;
  hostId: string;
  ip: string | null;
  hostname: string | null;
  /** the host's tags at the last write (for the tag filter) */
  tags: string[];
  scanner: 'QUALYSPC';
  policyId: string;
  policyTitle: string | null;
  controlId: string;
  /** the control statement */
  title: string | null;
  technology: string | null;
  technologyId: string | null;
  instance: string | null;
  testStatus: TestStatus;
  status: FindingStatus;
  severity: Severity | null;
  criticalityLabel: string;
  criticalityValue: number | null;
  expected: string | null;
  actual: string | null;
  rationale: string | null;
  remediation: string | null;
  evaluationDate: string | null;
  exception: {
    status: string | null;
    assignee: string | null;
    endDate: string | null;
  } | null;
  firstSeen: Date;
  /** when the finding was last written; when its host x policy was last assessed is on the assessment */
  lastSeen: Date;
  firstSeenRunId: string;
  /** the run that last wrote the finding (an unchanged finding is not written) */
  lastSeenRunId: string;
  /** hash of the report-derived fields, test status included (content-hash.ts); absent on documents of earlier versions */
  contentHash?: string;
  /** 0-7 from the _id (db-mode.ts slotOf): the ferretdb mode's statements select findings by it; absent on documents of earlier versions */
  slot?: number;
  closedAt: Date | null;
  closedReason: 'passed' | 'urba' | null;
  reopenCount: number;
  /** run and reason of the last status change (counts per run) */
  statusRunId: string;
  statusReason: StatusChange['reason'];
  history: StatusChange[];
  /**
   * A status change read by a run that has not finished yet: applied by that run's finalize only if
   * the run is complete (a failed or partial run closes nothing).
   */
  pending: { runId: string; testStatus: TestStatus; status: FindingStatus } | null;
}

export interface NetworkDoc {
  _id: string; // the network name
  name: string;
  createdAt: Date;
}

export interface AssessmentDoc {
  _id: string; // `${network}|${hostKey}|${policyId}` hashed
  network: string;
  hostKey: string;
  policyId: string;
  /** the last run that assessed this host x policy */
  runId: string;
  /** when that run wrote it (the findings' "last seen": an unchanged finding is not written) */
  at?: Date;
}

/** A chunk of whole finding documents that replace those with the same _id (rewrite-docs.ts). */
export interface RewriteDoc {
  _id: string;
  runId: string;
  /** deflated BSON { docs: FindingDoc[] } */
  docs: Binary;
  at: Date;
}

export interface SyncLockDoc {
  _id: string; // connectorId
  syncId: string;
  runIds: string[];
  at: Date;
}
