/** Integrations: the catalogue (search top right) and the configured connectors with their last run. */
import { useMemo, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { DataTable } from '../components/data-table.tsx';
import { api, get } from '../api.ts';
import type { Connector, Page } from '../types.ts';
import { useCanWrite } from '../session.tsx';
import { ErrorBox, Loading } from '../components/error-box.tsx';
import { DeleteConnector } from '../components/delete-connector.tsx';
import { FreshnessBadge } from '../components/freshness-badge.tsx';
import { when } from '../format.ts';

const CATALOGUE = [
  {
    id: 'qualys-pc',
    name: 'Qualys Policy Compliance',
    description: 'Imports Policy Compliance reports: hosts, controls and their pass/fail status as host findings.',
  },
];

export function IntegrationsPage() {
  const [search, setSearch] = useState('');
  const canWrite = useCanWrite();
  const navigate = useNavigate();
  const cards = CATALOGUE.filter((c) => `${c.name} ${c.description}`.toLowerCase().includes(search.trim().toLowerCase()));
  return (
    <>
      <div className="page-head">
        <h1>Integrations</h1>
        <div className="search">
          <label htmlFor="integration-search">Search integrations</label>
          <input id="integration-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="e.g. Policy Compliance" />
        </div>
      </div>
      <section aria-labelledby="catalogue-title">
        <h2 id="catalogue-title">Available Integrations</h2>
        {cards.length === 0 && <p>No integration matches “{search}”.</p>}
        <ul className="cards">
          {cards.map((c) => (
            <li key={c.id} className="card" aria-labelledby={`card-${c.id}`}>
              <h3 id={`card-${c.id}`}>{c.name}</h3>
              <p>{c.description}</p>
              {canWrite && (
                <button type="button" onClick={() => navigate('/integrations/new')} aria-label={`Configuration: ${c.name}`}>
                  Configuration
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
      <ConfiguredIntegrations />
    </>
  );
}

function ConfiguredIntegrations() {
  const q = useQuery({ queryKey: ['connectors'], queryFn: () => get<Page<Connector>>('/api/connectors', { limit: 200 }), refetchInterval: 5000 });
  const [deleting, setDeleting] = useState<string | null>(null);
  const deletingOne = q.data?.items.find((c) => c.id === deleting);
  // stable column definitions: a cell renderer that changed identity would remount its cell (and lose a Sync's answer)
  const cols = useMemo(() => columns(setDeleting), []);
  return (
    <section aria-labelledby="configured-title">
      <h2 id="configured-title">Currently Configured Integrations</h2>
      {q.isPending && <Loading what="connectors" />}
      <ErrorBox error={q.error} />
      {q.data && q.data.items.length === 0 && (
        <p>
          No connectors yet: <Link to="/integrations/new">configure one</Link>
        </p>
      )}
      {q.data && q.data.items.length > 0 && <DataTable label="Configured integrations" columns={cols} data={q.data.items} rowId={(c) => c.id} />}
      {deletingOne && <DeleteConnector connector={deletingOne} onClose={() => setDeleting(null)} />}
    </section>
  );
}

const cc = createColumnHelper<Connector>();
const columns = (onDelete: (id: string) => void) => [
  cc.accessor('name', { header: 'Name', meta: { rowHeader: true } }),
  cc.accessor('network', { header: 'Network' }),
  cc.accessor('reportTitlePrefix', { header: 'Report title prefix' }),
  cc.display({
    id: 'schedule',
    header: 'Schedule',
    cell: ({ row: { original: c } }) => (
      <>
        {c.scheduleText ?? (c.schedule ? c.schedule.kind : 'on demand')}
        {c.nextRuns && c.nextRuns.length > 0 && <div className="sub">next {when(c.nextRuns[0])}</div>}
      </>
    ),
  }),
  cc.accessor('autoUrba', { header: 'Auto URBA', cell: (v) => (v.getValue() ? 'on' : 'off') }),
  cc.display({
    id: 'last',
    header: 'Last run',
    cell: ({ row: { original: c } }) => {
      const last = c.lastRun;
      return last ? (
        <>
          <span className={`state state-${last.state}`}>{last.state}</span>
          <div className="sub">{when(last.endedAt ?? last.startedAt)}</div>
          <div className="sub">
            {last.counts.findingsCreated ?? 0} created, {last.counts.findingsUpdated ?? 0} updated, {last.counts.findingsClosed ?? 0} closed
          </div>
        </>
      ) : (
        'never run'
      );
    },
  }),
  cc.display({ id: 'freshness', header: 'Freshness', cell: ({ row: { original: c } }) => <FreshnessBadge c={c} /> }),
  cc.display({ id: 'actions', header: 'Actions', meta: { className: 'actions' }, cell: ({ row: { original: c } }) => <ConnectorActions c={c} onDelete={() => onDelete(c.id)} /> }),
];

function ConnectorActions({ c, onDelete }: { c: Connector; onDelete(): void }) {
  const canWrite = useCanWrite();
  const qc = useQueryClient();
  const sync = useMutation({
    mutationFn: () => api<{ joined: boolean; state: string }>('POST', `/api/connectors/${encodeURIComponent(c.id)}/sync`, {}),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['connectors'] }),
  });
  return (
    <>
      <Link className="button" to={`/integrations/${encodeURIComponent(c.id)}/history`} aria-label={`History of ${c.name}`}>
        History
      </Link>
      {canWrite && (
        <>
          <button type="button" onClick={() => sync.mutate()} disabled={sync.isPending} aria-label={`Sync ${c.name}`}>
            Sync
          </button>
          <Link className="button" to={`/integrations/${encodeURIComponent(c.id)}/edit`} aria-label={`Edit ${c.name}`}>
            Edit
          </Link>
          <button type="button" className="danger" onClick={onDelete} aria-label={`Delete ${c.name}`}>
            Delete
          </button>
        </>
      )}
      {sync.data && (
        <p role="status" className="sub">
          {sync.data.joined ? `Joined the sync already ${sync.data.state}` : 'Sync queued'}
        </p>
      )}
      <ErrorBox error={sync.error} />
    </>
  );
}
