/**
 * Test Credentials: log in, check Policy Compliance is reachable, list the reports whose title matches
 * the connector's prefix; for a posture connector, also the policies the user can see with when each
 * was last evaluated (and the connector's policy ids the user cannot see). The answer names the step
 * that failed and the Qualys client's error code (bad password, no PC module, unreachable, TLS, ...),
 * never the credentials.
 */
export interface ProbeInput {
  url: string;
  username: string;
  password: string;
  reportTitlePrefix: string;
  allowHttp: boolean;
  /** https only: the host may be a private address */
  allowPrivate: boolean;
  /** posture: list the visible policies too */
  source?: 'policy-report' | 'posture';
  /** posture: the policy ids the connector pulls (null: every visible one) */
  policyIds?: string[] | null;
}

export interface ProbeReport {
  id: string;
  title: string;
  type: string | null;
  state: string | null;
  /** as Qualys writes it, e.g. "129.1 MB" */
  size: string | null;
  sizeBytes: number | null;
  launchedAt: string | null;
}

/** A compliance policy the user can see (posture connectors). */
export interface ProbePolicy {
  id: string;
  title: string;
  /** when Qualys last evaluated it (ISO), null: never */
  lastEvaluatedAt: string | null;
  status: string | null;
  /** whether the connector pulls it */
  selected: boolean;
}

export type ProbeStep = 'login' | 'policyCompliance' | 'reports' | 'policies';

export type ProbeResult =
  | { ok: true; checks: Partial<Record<ProbeStep, 'ok'>>; reports: ProbeReport[]; policies?: ProbePolicy[] }
  | {
      ok: false;
      failedAt: ProbeStep;
      checks: Partial<Record<ProbeStep, 'ok' | 'failed' | 'not-run'>>;
      error: { code: string; message: string };
      reports: [];
      policies?: ProbePolicy[];
    };

export type QualysProbe = (input: ProbeInput) => Promise<ProbeResult>;
