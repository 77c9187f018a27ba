/**
 * Test Credentials: log in, check Policy Compliance is reachable, list the reports whose title matches
 * the connector's prefix. The answer names the step that failed and the Qualys client's error code
 * (bad password, no PC module, unreachable, TLS, ...), never the credentials.
 */
export interface ProbeInput {
  url: string;
  username: string;
  password: string;
  reportTitlePrefix: string;
  allowHttp: boolean;
  /** https only: the host may be a private address */
  allowPrivate: boolean;
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

export type ProbeStep = 'login' | 'policyCompliance' | 'reports';

export type ProbeResult =
  | { ok: true; checks: Record<ProbeStep, 'ok'>; reports: ProbeReport[] }
  | {
      ok: false;
      failedAt: ProbeStep;
      checks: Partial<Record<ProbeStep, 'ok' | 'failed' | 'not-run'>>;
      error: { code: string; message: string };
      reports: [];
    };

export type QualysProbe = (input: ProbeInput) => Promise<ProbeResult>;
