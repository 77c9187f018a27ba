/** A connector's runs: live while one runs (polling), stage durations, counts, errors, Retry, board links, chart. */
import { Link, useParams } from 'react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, get } from '../api.ts';
import type { Connector, Page, Run } from '../types.ts';
import { useCanWrite } from '../session.tsx';
import { ErrorBox, Loading } from '../components/error-box.tsx';
import { RunsChart, SeverityBar, type ChartPoint } from '../components/runs-chart.tsx';
import { bytes, duration, when } from '../format.ts';

const TERMINAL = ['succeeded', 'no-new-report', 'partial', 'failed'];
const STAGES = ['fetch', 'parse', 'write', 'finalize'] as const;

export function HistoryPage() {
  const { id = '' } = useParams();
  const enc = encodeURIComponent(id);
  const connector = useQuery({ queryKey: ['connector', id], queryFn: () => get<Connector>(`/api/connectors/${enc}`) });
  const runs = useQuery({
    queryKey: ['runs', id],
    queryFn: () => get<Page<Run>>(`/api/connectors/${enc}/runs`, { limit: 50 }),
    // live while a run is going; idle pages poll slowly so a scheduled run still shows up
    refetchInterval: (q) => (q.state.data?.items.some((r) => !TERMINAL.includes(r.state)) ? 1000 : 5000),
  });
  const chart = useQuery({
    queryKey: ['runs-chart', id, runs.data?.items.map((r) => `${r.id}:${r.state}`).join(',')],
    queryFn: () => get<{ runs: ChartPoint[]; openBySeverity: Record<string, number> }>(`/api/connectors/${enc}/runs/chart`),
    enabled: !!runs.data,
  });
  return (
    <>
      <p>
        <Link to="/integrations">← Integrations</Link>
      </p>
      <h1>History{connector.data ? ` of ${connector.data.name}` : ''}</h1>
      <ErrorBox error={connector.error} />
      {runs.isPending && <Loading what="runs" />}
      <ErrorBox error={runs.error} />
      {runs.data && runs.data.items.length === 0 && <p>No runs yet: press Sync on the Integrations page.</p>}
      {runs.data && runs.data.items.length > 0 && (
        <div className="table-wrap">
          <table aria-label="Runs">
            <thead>
              <tr>
                <th scope="col">Trigger</th>
                <th scope="col">Report</th>
                <th scope="col">State</th>
                <th scope="col">Started / ended</th>
                <th scope="col">Stages</th>
                <th scope="col">Counts</th>
                <th scope="col">Rejected</th>
                <th scope="col">Error</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.items.map((r) => (
                <RunRow key={r.id} run={r} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <section aria-labelledby="chart-title">
        <h2 id="chart-title">Over runs</h2>
        <ErrorBox error={chart.error} />
        {chart.data && (
          <>
            <p>
              Open findings by severity now: <SeverityBar counts={chart.data.openBySeverity} />
            </p>
            <RunsChart points={chart.data.runs} />
          </>
        )}
      </section>
    </>
  );
}

function RunRow({ run: r }: { run: Run }) {
  const canWrite = useCanWrite();
  const qc = useQueryClient();
  const running = !TERMINAL.includes(r.state);
  // the detail adds jobs and the report size; it is fetched again whenever the list sees the run change
  const detail = useQuery({
    queryKey: ['run', r.id, r.state, r.updatedAt],
    queryFn: () => get<Run>(`/api/runs/${encodeURIComponent(r.id)}`),
    refetchInterval: running ? 1000 : false,
    placeholderData: (prev) => prev,
  });
  // whichever of the two was read last is the truth (the list may overtake the detail's last poll)
  const run = detail.data && detail.data.updatedAt >= r.updatedAt ? detail.data : { ...r, jobs: detail.data?.jobs ?? [] };
  const retry = useMutation({
    mutationFn: () => api<unknown>('POST', `/api/runs/${encodeURIComponent(r.id)}/retry`, {}),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['runs'] }),
  });
  const c = run.counts;
  const size = run.progress.reportBytes ?? 0;
  // per stage: bytes downloaded or parsed of the report's size, then batches written of those parsed;
  // an unknown total leaves the bar indeterminate rather than guessing
  const [value, max]: [number | undefined, number | undefined] =
    run.state === 'fetching'
      ? size > 0 ? [run.progress.bytesDownloaded, size] : [undefined, undefined]
      : run.state === 'parsing'
        ? size > 0 ? [run.progress.bytesParsed, size] : [undefined, undefined]
        : (run.state === 'writing' || run.state === 'finalizing') && c.batches > 0
          ? [run.progress.batchesWritten, c.batches]
          : [undefined, undefined];
  return (
    <tr data-run={run.id} data-state={run.state}>
      <td>{run.trigger}</td>
      <td>
        {run.reportTitle ?? '—'}
        {run.reportId && <div className="sub">report {run.reportId}</div>}
      </td>
      <td>
        <span className={`state state-${run.state}`}>{run.state}</span>
        {running && (
          <div>
            <progress className="run-progress" aria-label={`Progress of run ${run.id}: ${run.state}`} {...(value !== undefined ? { value, max } : {})} />
            <div className="sub">
              {bytes(run.progress.bytesDownloaded)} downloaded, {bytes(run.progress.bytesParsed)} parsed, {run.progress.batchesWritten} batches written
            </div>
          </div>
        )}
      </td>
      <td>
        {when(run.createdAt)}
        <div className="sub">{run.endedAt ? when(run.endedAt) : 'running'}</div>
      </td>
      <td>
        {STAGES.map((s) => (
          <div key={s} className="sub">
            {s} {duration(run.timings?.[s]?.ms)}
          </div>
        ))}
      </td>
      <td className="counts">
        {c.findingsCreated} created, {c.findingsUpdated} updated, {Math.max(0, c.findingsParsed - c.findingsCreated - c.findingsUpdated)} unchanged,{' '}
        {c.findingsClosed} closed, {c.findingsReopened} reopened, {c.urbaClosed} URBA-closed
      </td>
      <td>{c.recordsRejected}</td>
      <td>{run.error ? `${run.error.class}: ${run.error.message}` : '—'}</td>
      <td className="actions">
        {canWrite && (run.state === 'failed' || run.state === 'partial') && (
          <button type="button" onClick={() => retry.mutate()} disabled={retry.isPending} aria-label={`Retry run ${run.id}`}>
            Retry
          </button>
        )}
        {retry.isSuccess && <p role="status">Retry requested</p>}
        <ErrorBox error={retry.error} />
        {(run.jobs ?? []).map((j) => (
          <div key={`${j.queue}:${j.id}`}>
            <a href={j.url}>
              {j.queue} job {j.id.slice(0, 12)}
            </a>
          </div>
        ))}
      </td>
    </tr>
  );
}
