/** Overview: per network open findings by severity, pass rate per policy, most-failing controls; stale connectors; failed runs. */
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { get } from '../api.ts';
import { ErrorBox, Loading } from '../components/error-box.tsx';
import { SeverityBar } from '../components/runs-chart.tsx';
import { age, when } from '../format.ts';

interface Overview {
  networks: {
    network: string;
    connectors: string[];
    openBySeverity: Record<string, number>;
    policies: { policyId: string; title: string | null; passed: number; failed: number; error: number; passRate: number | null }[];
    topFailingControls: { controlId: string; title: string | null; hosts: number }[];
  }[];
  staleConnectors: { id: string; name: string; dataAgeSeconds: number | null; staleReason?: { message: string } | null }[];
  failedRuns7d: { id: string; connectorId: string; state: string; endedAt: string | null; error: { class: string; message: string } | null }[];
}

const pct = (r: number | null) => (r === null || r === undefined ? '—' : `${Math.round(r * 1000) / 10}%`);

export function OverviewPage() {
  const q = useQuery({ queryKey: ['overview'], queryFn: () => get<Overview>('/api/overview'), refetchInterval: 30000 });
  const o = q.data;
  return (
    <>
      <h1>Overview</h1>
      {q.isPending && <Loading what="overview" />}
      <ErrorBox error={q.error} />
      {o && o.networks.length === 0 && (
        <p>
          No data yet: <Link to="/integrations">configure a connector</Link> and sync it.
        </p>
      )}
      {o?.networks.map((n) => (
        <section key={n.network} aria-labelledby={`net-${n.network}`} className="panel">
          <h2 id={`net-${n.network}`}>Network {n.network}</h2>
          <p>
            Open findings: <SeverityBar counts={n.openBySeverity} />
          </p>
          <div className="split">
            <table aria-label={`Pass rate per policy in ${n.network}`}>
              <thead>
                <tr>
                  <th scope="col">Policy</th>
                  <th scope="col">Passed</th>
                  <th scope="col">Failed</th>
                  <th scope="col">Error</th>
                  <th scope="col">Pass rate</th>
                </tr>
              </thead>
              <tbody>
                {n.policies.map((p) => (
                  <tr key={p.policyId}>
                    <th scope="row">{p.title ?? p.policyId}</th>
                    <td>{p.passed}</td>
                    <td>{p.failed}</td>
                    <td>{p.error}</td>
                    <td>{pct(p.passRate)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <table aria-label={`Controls failing on the most hosts in ${n.network}`}>
              <thead>
                <tr>
                  <th scope="col">Control failing on the most hosts</th>
                  <th scope="col">Hosts</th>
                </tr>
              </thead>
              <tbody>
                {n.topFailingControls.map((c) => (
                  <tr key={c.controlId}>
                    <th scope="row">
                      <Link to={`/findings?controlId=${encodeURIComponent(c.controlId)}&testStatus=Failed&network=${encodeURIComponent(n.network)}`}>
                        {c.controlId} {c.title ?? ''}
                      </Link>
                    </th>
                    <td>{c.hosts}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
      {o && (
        <div className="split">
          <section aria-labelledby="stale-title" className="panel">
            <h2 id="stale-title">Stale connectors</h2>
            {o.staleConnectors.length === 0 ? (
              <p>Every connector has fresh data.</p>
            ) : (
              <ul>
                {o.staleConnectors.map((c) => (
                  <li key={c.id}>
                    <Link to={`/integrations/${encodeURIComponent(c.id)}/history`}>{c.name}</Link>: {age(c.dataAgeSeconds)}
                    {c.staleReason ? ` (${c.staleReason.message})` : ''}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section aria-labelledby="failed-title" className="panel">
            <h2 id="failed-title">Runs failed in the last 7 days</h2>
            {o.failedRuns7d.length === 0 ? (
              <p>No failed run.</p>
            ) : (
              <ul>
                {o.failedRuns7d.map((r) => (
                  <li key={r.id}>
                    <Link to={`/integrations/${encodeURIComponent(r.connectorId)}/history`}>{r.state}</Link> {when(r.endedAt)}
                    {r.error && `: ${r.error.class}: ${r.error.message}`}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </div>
      )}
    </>
  );
}
