/** Overview: per network open findings by severity, pass rate per policy, most-failing controls; stale connectors; failed runs. */
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { DataTable } from '../components/data-table.tsx';
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

type Net = Overview['networks'][number];
const pc = createColumnHelper<Net['policies'][number]>();
const POLICY_COLUMNS = [
  pc.display({ id: 'policy', header: 'Policy', meta: { rowHeader: true }, cell: ({ row: { original: p } }) => p.title ?? p.policyId }),
  pc.accessor('passed', { header: 'Passed' }),
  pc.accessor('failed', { header: 'Failed' }),
  pc.accessor('error', { header: 'Error' }),
  pc.accessor('passRate', { header: 'Pass rate', cell: (c) => pct(c.getValue()) }),
];
const fc = createColumnHelper<Net['topFailingControls'][number]>();
const controlColumnsOf = new Map<string, ReturnType<typeof makeControlColumns>>();
/** one set per network, kept: a cell renderer that changed identity would remount its cells */
const controlColumns = (network: string) => {
  let c = controlColumnsOf.get(network);
  if (!c) controlColumnsOf.set(network, (c = makeControlColumns(network)));
  return c;
};
const makeControlColumns = (network: string) => [
  fc.display({
    id: 'control',
    header: 'Control failing on the most hosts',
    meta: { rowHeader: true },
    cell: ({ row: { original: c } }) => (
      <Link to={`/findings?controlId=${encodeURIComponent(c.controlId)}&testStatus=Failed&network=${encodeURIComponent(network)}`}>
        {c.controlId} {c.title ?? ''}
      </Link>
    ),
  }),
  fc.accessor('hosts', { header: 'Hosts' }),
];

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
            <DataTable label={`Pass rate per policy in ${n.network}`} columns={POLICY_COLUMNS} data={n.policies} rowId={(p) => p.policyId} wrap={false} />
            <DataTable label={`Controls failing on the most hosts in ${n.network}`} columns={controlColumns(n.network)} data={n.topFailingControls} rowId={(c) => c.controlId} wrap={false} />
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
