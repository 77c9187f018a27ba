/** The shapes the console reads from the API (see apps/api/src/routes and the console contract). */
export type Role = 'admin' | 'viewer';
export type Severity = 'Critical' | 'High' | 'Medium' | 'Low' | 'Info' | 'Unknown';
export const SEVERITIES: Severity[] = ['Critical', 'High', 'Medium', 'Low', 'Info', 'Unknown'];

export interface Page<T> {
  items: T[];
  next: string | null;
}

export type Schedule =
  | { kind: 'cron'; enabled?: boolean; cron: string; timezone: string }
  | { kind: 'hourly'; enabled?: boolean; minute: number; timezone: string }
  | { kind: 'daily'; enabled?: boolean; time: string; timezone: string }
  | { kind: 'weekly'; enabled?: boolean; day: string; time: string; timezone: string };

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
}

export interface Connector {
  id: string;
  name: string;
  url: string;
  username: string;
  hasPassword: boolean;
  network: string;
  reportTitlePrefix: string;
  /** where results are read: saved Policy Reports or the Compliance Posture API */
  source?: 'policy-report' | 'posture';
  posture?: { policyIds: string[] | null; apiVersion: '2.0' | '3.0'; fullEvery: number } | null;
  schedule: Schedule | null;
  autoUrba: boolean;
  urbaDryRun: boolean;
  urbaThreshold: number | null;
  createdAt: string;
  updatedAt: string;
  nextRuns?: string[];
  scheduleText?: string;
  lastRun?: { id: string; state: string; startedAt: string | null; endedAt: string | null; counts: Partial<RunCounts> } | null;
  staleAfterDays?: number | null;
  /** newest assessment of the complete runs, its age in seconds, and whether (and why) that is stale */
  dataAsOf?: string | null;
  dataAge?: number | null;
  stale?: boolean;
  staleReason?: { code: string; message: string } | null;
}

export interface StageTiming {
  startedAt: string | null;
  endedAt: string | null;
  ms: number | null;
}

export interface Run {
  id: string;
  connectorId: string;
  syncId: string;
  trigger: string;
  reportId: string | null;
  reportTitle: string | null;
  state: string;
  createdAt: string;
  updatedAt: string;
  endedAt: string | null;
  timings: Record<'fetch' | 'parse' | 'write' | 'finalize', StageTiming>;
  counts: RunCounts;
  rejected: { reason: string; count: number }[];
  progress: { bytesDownloaded: number; bytesParsed: number; batchesWritten: number; reportBytes?: number | null; size?: number | null };
  error: { class: string; message: string; stage: string; at: string } | null;
  urba: { decision: string; candidates: number; closed: number } | null;
  jobs?: { queue: string; id: string; url: string }[];
}

export interface ProbeResult {
  ok: boolean;
  failedAt?: 'login' | 'policyCompliance' | 'reports' | 'policies';
  checks: Partial<Record<'login' | 'policyCompliance' | 'reports' | 'policies', 'ok' | 'failed' | 'not-run'>>;
  error?: { code: string; message: string };
  reports: { id: string; title: string; launchedAt: string | null; size: string | null }[];
  /** posture connectors: the policies the user can see */
  policies?: { id: string; title: string; lastEvaluatedAt: string | null; selected: boolean }[];
}

export interface Host {
  id: string;
  network: string;
  ip: string | null;
  hostname: string | null;
  dns: string | null;
  netbios: string | null;
  os: string | null;
  lastScanDate: string | null;
  tags: string[];
  sources: string[];
  lastSeen: string;
  /** list items: open findings by severity */
  openFindingsBySeverity?: Record<string, number>;
  findingCounts?: { total: number; byStatus: Record<string, number>; bySeverity: Record<string, number>; byStatusAndSeverity: Record<string, Record<string, number>> };
}

export interface Finding {
  id: string;
  network: string;
  hostId: string;
  ip: string | null;
  hostname: string | null;
  policyId: string;
  controlId: string;
  title: string | null;
  instance: string | null;
  testStatus: string;
  status: string;
  severity: string | null;
  technology: string | null;
  expected: string | null;
  actual: string | null;
  scanner: string;
  tags: string[];
  lastSeen: string;
  /** the last status change */
  lastChanged: string | null;
}

export interface FindingDetail extends Finding {
  policyTitle: string | null;
  observations: { testStatus: string; evaluationDate: string | null };
  output: { expected: string | null; actual: string | null };
  firstSeen: string;
  closedAt: string | null;
  closedReason: string | null;
  history: { at: string; runId: string; from: string | null; to: string; reason: string }[];
}

export interface FacetValue {
  value: string | null;
  count: number;
  label?: string;
}
