/** Test Credentials: each check with its result; a failure says which check failed and what to do. */
import { useMutation } from '@tanstack/react-query';
import { api } from '../api.ts';
import type { ProbeResult } from '../types.ts';
import { duration, when } from '../format.ts';
import { ErrorBox } from './error-box.tsx';

type Step = 'login' | 'policyCompliance' | 'reports' | 'policies';

const CHECKS: { step: Step; label: string }[] = [
  { step: 'login', label: 'Login' },
  { step: 'policyCompliance', label: 'Policy Compliance access' },
  { step: 'reports', label: 'Matching reports' },
  { step: 'policies', label: 'Visible policies' },
];

const ADVICE: Record<Step, string> = {
  login: 'Check the URL (your Qualys platform API address), the user name and the password, and that the account may use the API.',
  policyCompliance: 'The account logged in but cannot use Policy Compliance: ask your Qualys administrator to enable the PC module and API access for it.',
  reports: 'Qualys could not list the reports: check the account may read Policy Compliance reports, then try again.',
  policies: 'Remove the policy ids this account cannot see, or give it access to them in Qualys.',
};

export interface TestInput {
  url: string;
  username: string;
  password: string;
  reportTitlePrefix: string;
  source?: 'policy-report' | 'posture';
  /** comma-separated; empty: every policy the user can see */
  policyIds?: string;
}

export function TestCredentials({ connectorId, input }: { connectorId: string | null; input: TestInput }) {
  const test = useMutation({
    mutationFn: async () => {
      const t0 = performance.now();
      const posture = input.source === 'posture';
      const ids = (input.policyIds ?? '').split(/[\s,]+/).filter(Boolean);
      const body: Record<string, unknown> = posture
        ? { url: input.url, username: input.username, source: 'posture', policyIds: ids.length ? ids : null }
        : { url: input.url, username: input.username, reportTitlePrefix: input.reportTitlePrefix };
      // editing: an empty password means "the saved one", which only the server holds
      if (input.password !== '') body.password = input.password;
      const path = connectorId ? `/api/connectors/${encodeURIComponent(connectorId)}/test` : '/api/connectors/test';
      const result = await api<ProbeResult>('POST', path, body);
      return { result, ms: Math.round(performance.now() - t0), prefix: input.reportTitlePrefix };
    },
  });
  const r = test.data?.result;
  const newest = r?.reports.slice().sort((a, b) => String(b.launchedAt).localeCompare(String(a.launchedAt)))[0];
  return (
    <section aria-labelledby="test-title" className="test-credentials">
      <h3 id="test-title">Test Credentials</h3>
      <button type="button" onClick={() => test.mutate()} disabled={test.isPending}>
        {test.isPending ? 'Testing…' : 'Test Credentials'}
      </button>
      <ErrorBox error={test.error} />
      {r && (
        <div aria-live="polite" data-testid="test-result">
          <ul className="checks">
            {CHECKS.filter(({ step }) => step !== 'policies' || r.checks.policies !== undefined).map(({ step, label }) => {
              const state = r.checks[step] ?? 'not-run';
              return (
                <li key={step} className={`check check-${state}`}>
                  <strong>{label}</strong>: {state === 'ok' ? 'passed' : state === 'failed' ? 'failed' : 'not run'}
                  {step === 'reports' && state === 'ok' && (
                    <span>
                      {' '}
                      — {r.reports.length} matching report{r.reports.length === 1 ? '' : 's'}
                      {newest && `, newest “${newest.title}” of ${when(newest.launchedAt)}`}
                    </span>
                  )}
                </li>
              );
            })}
          </ul>
          <p className="sub">Took {duration(test.data?.ms)}.</p>
          {!r.ok && r.failedAt && (
            <div role="alert" className="error">
              <strong>{CHECKS.find((c) => c.step === r.failedAt)?.label} failed</strong> ({r.error?.code}): {r.error?.message}
              <p>{ADVICE[r.failedAt]}</p>
            </div>
          )}
          {r.policies && (
            <ul className="policies" aria-label="Visible policies">
              {r.policies.map((p) => (
                <li key={p.id}>
                  {p.selected ? '✓ ' : ''}
                  {p.id} {p.title}: last evaluated {p.lastEvaluatedAt ? when(p.lastEvaluatedAt) : 'never'}
                </li>
              ))}
            </ul>
          )}
          {r.ok && !r.policies && r.reports.length === 0 && (
            <div role="status" className="warning">
              <strong>Warning: no matching report.</strong> No Policy Compliance report has a title starting with “{test.data?.prefix}”. Create or
              schedule a Policy Compliance report in Qualys whose title starts with this prefix, then test again.
            </div>
          )}
          {r.ok && (r.policies !== undefined || r.reports.length > 0) && <p role="status">Every check passed.</p>}
        </div>
      )}
    </section>
  );
}
