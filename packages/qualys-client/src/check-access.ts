import type { ReportInfo } from './envelopes.ts';
import { parseAbout, parsePolicyList } from './envelopes.ts';
import { QualysError } from './errors.ts';
import type { Transport } from './transport.ts';

/** What Test Credentials shows. */
export interface AccessReport {
  ok: true;
  /** the platform version from /msp/about.php, when it answers */
  version: string | undefined;
  /** compliance policies visible to the user */
  policies: number;
  /** reports whose title starts with the prefix, newest first */
  reports: Pick<ReportInfo, 'id' | 'title' | 'state' | 'sizeText' | 'sizeBytes' | 'launchedAt' | 'outputFormat' | 'type'>[];
}

/**
 * Login, Policy Compliance, then the reports of the prefix. Each failure is its own error code:
 * QUALYS_BAD_CREDENTIALS, QUALYS_NO_PC_MODULE, QUALYS_UNREACHABLE, QUALYS_TLS, QUALYS_HTML_PAGE /
 * QUALYS_UNEXPECTED_RESPONSE / QUALYS_REDIRECT (not a Qualys API server).
 */
export async function checkAccess(
  tr: Transport,
  listReports: (f: Record<string, never>, o: { signal?: AbortSignal }) => Promise<ReportInfo[]>,
  prefix: string,
  signal?: AbortSignal,
): Promise<AccessReport> {
  const opts = signal ? { signal } : {};
  // The report list needs a login: it proves the credentials (about.php may answer without them).
  const all = await listReports({}, opts);
  let version: string | undefined;
  try {
    const root = await tr.callXml({ method: 'GET', path: '/msp/about.php', params: {}, signal });
    version = parseAbout(root).version;
  } catch (err) {
    if (err instanceof QualysError && (err.code === 'QUALYS_UNREACHABLE' || err.code === 'QUALYS_TLS' || err.code === 'QUALYS_BAD_CREDENTIALS')) throw err;
    version = undefined; // about.php is informative only: some accounts may not reach it
  }
  let policies: number;
  try {
    const root = await tr.callXml({ method: 'GET', path: '/api/2.0/fo/compliance/policy/', params: { action: 'list', details: 'Basic' }, signal });
    if (root.name !== 'POLICY_LIST_OUTPUT')
      throw new QualysError('QUALYS_UNEXPECTED_RESPONSE', `compliance policy list answered <${root.name}>`, { retryable: false });
    policies = parsePolicyList(root).length;
  } catch (err) {
    if (err instanceof QualysError && (err.code === 'QUALYS_API_ERROR' || (err.code === 'QUALYS_HTTP_ERROR' && (err.status === 403 || err.status === 404)))) {
      throw new QualysError(
        'QUALYS_NO_PC_MODULE',
        `Policy Compliance is not reachable for this account (${err.qualysCode !== undefined ? `Qualys code ${err.qualysCode}: ${err.qualysText ?? ''}` : `HTTP ${err.status}`})`,
        { retryable: false, cause: err, ...(err.status !== undefined ? { status: err.status } : {}), ...(err.qualysCode !== undefined ? { qualysCode: err.qualysCode } : {}) },
      );
    }
    throw err;
  }
  const reports = all
    .filter((r) => r.title.startsWith(prefix))
    .sort((a, b) => (b.launchedAt?.getTime() ?? 0) - (a.launchedAt?.getTime() ?? 0))
    .map((r) => ({
      id: r.id,
      title: r.title,
      type: r.type,
      state: r.state,
      sizeText: r.sizeText,
      sizeBytes: r.sizeBytes,
      launchedAt: r.launchedAt,
      outputFormat: r.outputFormat,
    }));
  return { ok: true, version, policies, reports };
}
