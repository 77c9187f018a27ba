/** Hosts with filters kept in the URL, and a Host Detail pane (tags, sources, findings by severity). */
import { Link, useSearchParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { get } from '../api.ts';
import type { Host, Page } from '../types.ts';
import { ErrorBox, Loading } from '../components/error-box.tsx';
import { Pager, usePager } from '../components/pager.tsx';
import { SeverityBar } from '../components/runs-chart.tsx';
import { when } from '../format.ts';

const FILTERS = [
  { key: 'scanner', label: 'Scanner' },
  { key: 'network', label: 'Network' },
  { key: 'tag', label: 'Tag' },
  { key: 'q', label: 'IP or name' },
] as const;

const hostQuery = (id: string) => ({ queryKey: ['host', id], queryFn: () => get<Host>(`/api/hosts/${encodeURIComponent(id)}`) });

export function HostsPage() {
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(FILTERS.map((f) => [f.key, params.get(f.key) ?? undefined]));
  const selected = params.get('host');
  const pager = usePager(JSON.stringify(filters));
  const hosts = useQuery({
    queryKey: ['hosts', filters, pager.cursor],
    queryFn: () => get<Page<Host>>('/api/hosts', { ...filters, limit: 25, cursor: pager.cursor }),
  });
  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    next.delete('host');
    setParams(next, { replace: true });
  };
  const select = (id: string | null) => {
    const next = new URLSearchParams(params);
    if (id) next.set('host', id);
    else next.delete('host');
    setParams(next);
  };
  return (
    <>
      <h1>Hosts</h1>
      <form className="filters" aria-label="Host filters" onSubmit={(e) => e.preventDefault()}>
        {FILTERS.map((f) => (
          <div key={f.key} className="field">
            <label htmlFor={`hf-${f.key}`}>{f.label}</label>
            <input id={`hf-${f.key}`} type={f.key === 'q' ? 'search' : 'text'} defaultValue={filters[f.key] ?? ''} onBlur={(e) => setFilter(f.key, e.target.value.trim())} onKeyDown={(e) => e.key === 'Enter' && setFilter(f.key, e.currentTarget.value.trim())} />
          </div>
        ))}
      </form>
      <div className="split">
        <div>
          {hosts.isPending && <Loading what="hosts" />}
          <ErrorBox error={hosts.error} />
          {hosts.data && hosts.data.items.length === 0 && <p>No host matches these filters.</p>}
          {hosts.data && hosts.data.items.length > 0 && (
            <div className="table-wrap">
              <table aria-label="Hosts">
                <thead>
                  <tr>
                    <th scope="col">IP</th>
                    <th scope="col">Hostname</th>
                    <th scope="col">DNS</th>
                    <th scope="col">NetBIOS</th>
                    <th scope="col">OS</th>
                    <th scope="col">Network</th>
                    <th scope="col">Tags</th>
                    <th scope="col">Sources</th>
                    <th scope="col">Last assessed</th>
                    <th scope="col">Open findings</th>
                  </tr>
                </thead>
                <tbody>
                  {hosts.data.items.map((h) => (
                    <tr key={h.id} aria-selected={selected === h.id}>
                      <th scope="row">
                        <button type="button" className="link" onClick={() => select(h.id)} aria-label={`Host Detail of ${h.ip ?? h.hostname ?? h.id}`}>
                          {h.ip ?? '—'}
                        </button>
                      </th>
                      <td>{h.hostname ?? '—'}</td>
                      <td>{h.dns ?? '—'}</td>
                      <td>{h.netbios ?? '—'}</td>
                      <td>{h.os ?? '—'}</td>
                      <td>{h.network}</td>
                      <td>
                        <Tags tags={h.tags} />
                      </td>
                      <td>{h.sources.join(', ')}</td>
                      <td>{h.lastScanDate ? when(h.lastScanDate) : when(h.lastSeen)}</td>
                      <td>
                        <OpenCounts id={h.id} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager page={pager.page} next={hosts.data?.next} onNext={pager.next} onPrev={pager.prev} />
        </div>
        {selected && <HostDetail id={selected} onClose={() => select(null)} />}
      </div>
    </>
  );
}

function Tags({ tags }: { tags: string[] }) {
  if (!tags.length) return <span className="sub">none</span>;
  return (
    <ul className="tags" aria-label="Asset Tags">
      {tags.map((t) => (
        <li key={t} className="tag">
          {t}
        </li>
      ))}
    </ul>
  );
}

function OpenCounts({ id }: { id: string }) {
  const q = useQuery(hostQuery(id));
  if (!q.data?.findingCounts) return <span className="sub">…</span>;
  return <SeverityBar counts={q.data.findingCounts.byStatusAndSeverity.Open ?? {}} />;
}

function HostDetail({ id, onClose }: { id: string; onClose(): void }) {
  const q = useQuery(hostQuery(id));
  const h = q.data;
  return (
    <aside className="detail" aria-labelledby="host-detail-title">
      <h2 id="host-detail-title">Host Detail</h2>
      <button type="button" onClick={onClose}>
        Close
      </button>
      {q.isPending && <Loading what="host" />}
      <ErrorBox error={q.error} />
      {h && (
        <>
          <dl>
            <dt>IP</dt>
            <dd>{h.ip ?? '—'}</dd>
            <dt>Hostname</dt>
            <dd>{h.hostname ?? '—'}</dd>
            <dt>DNS</dt>
            <dd>{h.dns ?? '—'}</dd>
            <dt>NetBIOS</dt>
            <dd>{h.netbios ?? '—'}</dd>
            <dt>OS</dt>
            <dd>{h.os ?? '—'}</dd>
            <dt>Network</dt>
            <dd>{h.network}</dd>
          </dl>
          <h3>Asset Tags</h3>
          <Tags tags={h.tags} />
          <h3>Sources</h3>
          <ul aria-label="Sources">
            {h.sources.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
          <h3>Findings</h3>
          <p>
            {h.findingCounts?.total ?? 0} findings, {h.findingCounts?.byStatus.Open ?? 0} open: <SeverityBar counts={h.findingCounts?.byStatusAndSeverity.Open ?? {}} />
          </p>
          <Link to={`/findings?host=${encodeURIComponent(h.id)}`}>Show the findings of this host</Link>
        </>
      )}
    </aside>
  );
}
