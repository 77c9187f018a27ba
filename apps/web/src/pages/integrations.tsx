/** Integrations: the catalogue (search top right) and the configured connectors with their last run. */
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, get } from '../api.ts';
import type { Connector, Page } from '../types.ts';
import { useCanWrite } from '../session.tsx';
import { ErrorBox, Loading } from '../components/error-box.tsx';
import { DeleteConnector } from '../components/delete-connector.tsx';
import { when } from '../format.ts';
import { FreshnessBadge } from '../components/freshness-badge.tsx';

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
      {q.data && q.data.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Network</th>
                <th scope="col">Report title prefix</th>
                <th scope="col">Schedule</th>
                <th scope="col">Auto URBA</th>
                <th scope="col">Last run</th>
                <th scope="col">Freshness</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {q.data.items.map((c) => (
                <ConnectorRow key={c.id} c={c} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function ConnectorRow({ c }: { c: Connector }) {
  const canWrite = useCanWrite();
  const qc = useQueryClient();
  const [deleting, setDeleting] = useState(false);
  const sync = useMutation({
    mutationFn: () => api<{ joined: boolean; state: string }>('POST', `/api/connectors/${encodeURIComponent(c.id)}/sync`, {}),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['connectors'] }),
  });
  const last = c.lastRun;
  return (
    <>
      <tr>
        <th scope="row">{c.name}</th>
        <td>{c.network}</td>
        <td>{c.reportTitlePrefix}</td>
        <td>
          {c.scheduleText ?? (c.schedule ? c.schedule.kind : 'on demand')}
          {c.nextRuns && c.nextRuns.length > 0 && <div className="sub">next {when(c.nextRuns[0])}</div>}
        </td>
        <td>{c.autoUrba ? 'on' : 'off'}</td>
        <td>
          {last ? (
            <>
              <span className={`state state-${last.state}`}>{last.state}</span>
              <div className="sub">{when(last.endedAt ?? last.startedAt)}</div>
              <div className="sub">
                {last.counts.findingsCreated ?? 0} created, {last.counts.findingsUpdated ?? 0} updated, {last.counts.findingsClosed ?? 0} closed
              </div>
            </>
          ) : (
            'never run'
          )}
        </td>
        <td>
          <FreshnessBadge c={c} />
        </td>
        <td className="actions">
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
              <button type="button" className="danger" onClick={() => setDeleting(true)} aria-label={`Delete ${c.name}`}>
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
        </td>
      </tr>
      {deleting && (
        <tr>
          <td colSpan={8}>
            <DeleteConnector connector={c} onClose={() => setDeleting(false)} />
          </td>
        </tr>
      )}
    </>
  );
}
