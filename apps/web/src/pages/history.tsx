/** A connector's runs: live while one runs (polling), stage durations, counts, errors, Retry, board links, chart. */
import { useEffect } from 'react';
import { Link, useParams } from 'react-router';
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { DataTable } from '../components/data-table.tsx';
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
      {runs.data && runs.data.items.length > 0 && <RunsTable runs={runs.data.items} />}
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

/**
 * Each run's detail adds its jobs and the report size; it is fetched again whenever the list sees the
 * run change, and every second while the run is going.
 */
function RunsTable({ runs }: { runs: Run[] }) {
  const qc = useQueryClient();
  const details = useQueries({
    queries: runs.map((r) => ({
      queryKey: ['run-detail', r.id],
      queryFn: () => get<Run>(`/api/runs/${encodeURIComponent(r.id)}`),
      refetchInterval: TERMINAL.includes(r.state) ? (false as const) : 1000,
    })),
  });
  // a run the list shows changed: read its detail again (the last one stays shown meanwhile)
  const signature = runs.map((r) => `${r.id}:${r.state}:${r.updatedAt}`).join(',');
  useEffect(() => {
    void qc.invalidateQueries({ queryKey: ['run-detail'] });
  }, [signature, qc]);
  // whichever of the two was read last is the truth (the list may overtake the detail's last poll)
  const merged = runs.map((r, i) => {
    const d = details[i]?.data;
    return d && d.updatedAt >= r.updatedAt ? d : { ...r, jobs: d?.jobs ?? [] };
  });
  return <DataTable label="Runs" columns={RUN_COLUMNS} data={merged} rowId={(r) => r.id} rowProps={(r) => ({ 'data-run': r.id, 'data-state': r.state })} />;
}

function progressOf(run: Run): [number | undefined, number | undefined] {
  const c = run.counts;
  const size = run.progress.reportBytes ?? 0;
  // per stage: bytes downloaded or parsed of the report's size, then batches written of those parsed;
  // an unknown total leaves the bar indeterminate rather than guessing
  if (run.state === 'fetching') return size > 0 ? [run.progress.bytesDownloaded, size] : [undefined, undefined];
  if (run.state === 'parsing') return size > 0 ? [run.progress.bytesParsed, size] : [undefined, undefined];
  if ((run.state === 'writing' || run.state === 'finalizing') && c.batches > 0) return [run.progress.batchesWritten, c.batches];
  return [undefined, undefined];
}

const rc = createColumnHelper<Run>();
const RUN_COLUMNS = [
  rc.accessor('trigger', { header: 'Trigger' }),
  rc.display({
    id: 'report',
    header: 'Report',
    cell: ({ row: { original: run } }) => (
      <>
        {run.reportTitle ?? '—'}
        {run.reportId && <div className="sub">report {run.reportId}</div>}
      </>
    ),
  }),
  rc.display({
    id: 'state',
    header: 'State',
    cell: ({ row: { original: run } }) => {
      const [value, max] = progressOf(run);
      return (
        <>
          <span className={`state state-${run.state}`}>{run.state}</span>
          {!TERMINAL.includes(run.state) && (
            <div>
              <progress className="run-progress" aria-label={`Progress of run ${run.id}: ${run.state}`} {...(value !== undefined ? { value, max } : {})} />
              <div className="sub">
                {bytes(run.progress.bytesDownloaded)} downloaded, {bytes(run.progress.bytesParsed)} parsed, {run.progress.batchesWritten} batches written
              </div>
            </div>
          )}
        </>
      );
    },
  }),
  rc.display({
    id: 'when',
    header: 'Started / ended',
    cell: ({ row: { original: run } }) => (
      <>
        {when(run.createdAt)}
        <div className="sub">{run.endedAt ? when(run.endedAt) : 'running'}</div>
      </>
    ),
  }),
  rc.display({
    id: 'stages',
    header: 'Stages',
    cell: ({ row: { original: run } }) =>
      STAGES.map((s) => (
        <div key={s} className="sub">
          {s} {duration(run.timings?.[s]?.ms)}
        </div>
      )),
  }),
  rc.display({
    id: 'counts',
    header: 'Counts',
    meta: { className: 'counts' },
    cell: ({ row: { original: run } }) => {
      const c = run.counts;
      return (
        <>
          {c.findingsCreated} created, {c.findingsUpdated} updated, {Math.max(0, c.findingsParsed - c.findingsCreated - c.findingsUpdated)} unchanged,{' '}
          {c.findingsClosed} closed, {c.findingsReopened} reopened, {c.urbaClosed} URBA-closed
        </>
      );
    },
  }),
  rc.display({ id: 'rejected', header: 'Rejected', cell: ({ row: { original: run } }) => run.counts.recordsRejected }),
  rc.display({ id: 'error', header: 'Error', cell: ({ row: { original: run } }) => (run.error ? `${run.error.class}: ${run.error.message}` : '—') }),
  rc.display({ id: 'actions', header: 'Actions', meta: { className: 'actions' }, cell: ({ row: { original: run } }) => <RunActions run={run} /> }),
];

interface RetryAnswer {
  retried: { queue: string; id: string }[];
  /** set when no failed job could be retried and a sync of the connector was started (or joined) instead */
  sync?: { joined: boolean; state: string } | null;
  message?: string;
}

function RunActions({ run }: { run: Run }) {
  const canWrite = useCanWrite();
  const qc = useQueryClient();
  const retry = useMutation({
    mutationFn: () => api<RetryAnswer>('POST', `/api/runs/${encodeURIComponent(run.id)}/retry`, {}),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['runs'] }),
  });
  return (
    <>
      {canWrite && (run.state === 'failed' || run.state === 'partial') && (
        <button type="button" onClick={() => retry.mutate()} disabled={retry.isPending} aria-label={`Retry run ${run.id}`}>
          Retry
        </button>
      )}
      {retry.isSuccess && <p role="status">{retry.data?.message ?? 'Retry requested'}</p>}
      <ErrorBox error={retry.error} />
      {(run.jobs ?? []).map((j) => (
        <div key={`${j.queue}:${j.id}`}>
          <a href={j.url}>
            {j.queue} job {j.id.slice(0, 12)}
          </a>
        </div>
      ))}
    </>
  );
}
