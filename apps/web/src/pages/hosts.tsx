/** Hosts with filters kept in the URL, and a Host Detail pane (tags, sources, findings by severity). */
import { useMemo, useRef } from 'react';
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { get } from '../api.ts';
import type { Host, Page } from '../types.ts';
import { ErrorBox, Loading } from '../components/error-box.tsx';
import { usePager } from '../components/pager.tsx';
import { SeverityBar } from '../components/runs-chart.tsx';
import { DataTable } from '../components/data-table.tsx';
import { FilterForm, ListBody, useUrlFilters } from '../components/list-page.tsx';
import { when } from '../format.ts';

const FILTERS = [
  { key: 'scanner', label: 'Scanner' },
  { key: 'network', label: 'Network' },
  { key: 'tag', label: 'Tag' },
  { key: 'q', label: 'IP or name' },
] as const;

const hostQuery = (id: string) => ({ queryKey: ['host', id], queryFn: () => get<Host>(`/api/hosts/${encodeURIComponent(id)}`) });

const col = createColumnHelper<Host>();
const dash = (v: string | null) => v ?? '—';
const columns = (select: (id: string) => void) => [
  col.accessor('ip', {
    header: 'IP',
    meta: { rowHeader: true },
    cell: ({ row: { original: h } }) => (
      <button type="button" className="link" onClick={() => select(h.id)} aria-label={`Host Detail of ${h.ip ?? h.hostname ?? h.id}`}>
        {h.ip ?? '—'}
      </button>
    ),
  }),
  col.accessor('hostname', { header: 'Hostname', cell: (c) => dash(c.getValue()) }),
  col.accessor('dns', { header: 'DNS', cell: (c) => dash(c.getValue()) }),
  col.accessor('netbios', { header: 'NetBIOS', cell: (c) => dash(c.getValue()) }),
  col.accessor('os', { header: 'OS', cell: (c) => dash(c.getValue()) }),
  col.accessor('network', { header: 'Network' }),
  col.accessor('tags', { header: 'Tags', cell: (c) => <Tags tags={c.getValue()} /> }),
  col.accessor('sources', { header: 'Sources', cell: (c) => c.getValue().join(', ') }),
  col.display({ id: 'assessed', header: 'Last assessed', cell: ({ row: { original: h } }) => (h.lastScanDate ? when(h.lastScanDate) : when(h.lastSeen)) }),
  col.display({ id: 'open', header: 'Open findings', cell: ({ row: { original: h } }) => <SeverityBar counts={h.openFindingsBySeverity ?? {}} /> }),
];

export function HostsPage() {
  const { params, setParams, filters, setFilter } = useUrlFilters(
    FILTERS.map((f) => f.key),
    ['host'],
  );
  const selected = params.get('host');
  const pager = usePager(JSON.stringify(filters));
  const hosts = useQuery({
    queryKey: ['hosts', filters, pager.cursor],
    queryFn: () => get<Page<Host>>('/api/hosts', { ...filters, limit: 25, cursor: pager.cursor }),
  });
  const select = (id: string | null) => {
    const next = new URLSearchParams(params);
    if (id) next.set('host', id);
    else next.delete('host');
    setParams(next);
  };
  // stable column definitions (a cell renderer that changed identity would remount its cell); the
  // button calls the current select through the ref
  const selectRef = useRef(select);
  selectRef.current = select;
  const cols = useMemo(() => columns((id) => selectRef.current(id)), []);
  return (
    <>
      <h1>Hosts</h1>
      <FilterForm label="Host filters">
        {FILTERS.map((f) => (
          <div key={f.key} className="field">
            <label htmlFor={`hf-${f.key}`}>{f.label}</label>
            <input id={`hf-${f.key}`} type={f.key === 'q' ? 'search' : 'text'} defaultValue={filters[f.key] ?? ''} onBlur={(e) => setFilter(f.key, e.target.value.trim())} onKeyDown={(e) => e.key === 'Enter' && setFilter(f.key, e.currentTarget.value.trim())} />
          </div>
        ))}
      </FilterForm>
      <div className="split">
        <div>
          <ListBody
            what="hosts"
            pending={hosts.isPending}
            error={hosts.error}
            count={hosts.data ? hosts.data.items.length : null}
            emptyText="No host matches these filters."
            page={pager.page}
            next={hosts.data?.next}
            onNext={pager.next}
            onPrev={pager.prev}
          >
            <DataTable label="Hosts" columns={cols} data={hosts.data?.items ?? []} rowId={(h) => h.id} rowProps={(h) => ({ 'aria-selected': selected === h.id })} />
          </ListBody>
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
