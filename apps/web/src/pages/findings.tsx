/**
 * Host Findings: rows and facet counts are two requests side by side (facets scan more and must never
 * hold the rows back); filters live in the URL. The browser's performance marks time both for the bench.
 */
import { useEffect } from 'react';
import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { get, withQuery } from '../api.ts';
import type { FacetValue, Finding, Page } from '../types.ts';
import { ErrorBox } from '../components/error-box.tsx';
import { usePager } from '../components/pager.tsx';
import { DataTable } from '../components/data-table.tsx';
import { FilterForm, ListBody, useUrlFilters } from '../components/list-page.tsx';
import { when } from '../format.ts';

export const FINDING_FILTERS = [
  { key: 'testStatus', label: 'PolicyCompliance:Test Status' },
  { key: 'technology', label: 'PolicyCompliance:Technology' },
  { key: 'expectedResult', label: 'PolicyCompliance:Expected Result' },
  { key: 'actualResult', label: 'PolicyCompliance:Actual Result' },
  { key: 'scanner', label: 'Scanner' },
  { key: 'status', label: 'Status' },
  { key: 'severity', label: 'Severity' },
  { key: 'network', label: 'Network' },
  { key: 'policyId', label: 'Policy' },
  { key: 'host', label: 'Host' },
] as const;

type Facets = { facets: Partial<Record<string, FacetValue[]>>; truncated: string[] };

const UNSET = 'Unset';
const short = (s: string, n = 60) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function markOnce(name: string) {
  if (performance.getEntriesByName(name, 'mark').length === 0) performance.mark(name);
}

const col = createColumnHelper<Finding>();
const COLUMNS = [
  col.display({
    id: 'host',
    header: 'Host',
    cell: ({ row: { original: f } }) => (
      <>
        {f.ip ?? '—'}
        {f.hostname && <div className="sub">{f.hostname}</div>}
      </>
    ),
  }),
  col.accessor('policyId', { header: 'Policy' }),
  col.display({
    id: 'control',
    header: 'Control',
    meta: { rowHeader: true },
    cell: ({ row: { original: f } }) => (
      <Link to={`/findings/${encodeURIComponent(f.id)}`}>
        {f.controlId} {short(f.title ?? '', 90)}
      </Link>
    ),
  }),
  col.accessor('technology', { header: 'Technology', cell: (c) => c.getValue() ?? '—' }),
  col.accessor('instance', { header: 'Instance', cell: (c) => c.getValue() ?? '—' }),
  col.accessor('testStatus', { header: 'Test status' }),
  col.accessor('status', { header: 'Status' }),
  col.accessor('severity', { header: 'Severity', cell: (c) => c.getValue() ?? 'Not set' }),
  col.accessor('lastChanged', { header: 'Last changed', cell: (c) => when(c.getValue()) }),
];

export function FindingsPage() {
  const { filters, setFilter } = useUrlFilters(FINDING_FILTERS.map((f) => f.key));
  const key = JSON.stringify(filters);
  const pager = usePager(key);
  const rows = useQuery({
    queryKey: ['findings', filters, pager.cursor],
    queryFn: () => get<Page<Finding>>('/api/findings', { ...filters, limit: 50, cursor: pager.cursor }),
    placeholderData: (prev) => prev,
  });
  const facets = useQuery({
    queryKey: ['facets', filters],
    queryFn: () => get<Facets>('/api/findings/facets', { ...filters, size: 100 }),
    placeholderData: (prev) => prev,
  });
  useEffect(() => {
    if (rows.data && !rows.isPlaceholderData) markOnce('qpc:findings-rows');
  }, [rows.data, rows.isPlaceholderData]);
  useEffect(() => {
    if (facets.data && !facets.isPlaceholderData) markOnce('qpc:findings-facets');
  }, [facets.data, facets.isPlaceholderData]);

  return (
    <>
      <div className="page-head">
        <h1>Host Findings</h1>
        <a className="button" href={withQuery('/api/findings/export.csv', filters)} download="host-findings.csv">
          Export CSV
        </a>
      </div>
      <FilterForm label="Finding filters">
        {FINDING_FILTERS.map((f) => {
          const values = facets.data?.facets[f.key] ?? [];
          const current = filters[f.key];
          const known = values.some((v) => (v.value ?? UNSET) === current);
          return (
            <div key={f.key} className="field">
              <label htmlFor={`ff-${f.key}`}>{f.label}</label>
              <select id={`ff-${f.key}`} value={current ?? ''} onChange={(e) => setFilter(f.key, e.target.value)} data-facet={f.key}>
                <option value="">Any</option>
                {current && !known && <option value={current}>{short(current)}</option>}
                {values.map((v) => (
                  <option key={v.value ?? UNSET} value={v.value ?? UNSET} data-count={v.count}>
                    {short(v.label || (v.value ?? 'Not set'))} ({v.count})
                  </option>
                ))}
              </select>
            </div>
          );
        })}
        {facets.isFetching && <span className="sub" aria-live="polite">Counting…</span>}
      </FilterForm>
      <ErrorBox error={facets.error} />
      <ListBody
        what="findings"
        pending={rows.isPending}
        error={rows.error}
        count={rows.data ? rows.data.items.length : null}
        emptyText="No finding matches these filters."
        page={pager.page}
        next={rows.data?.next}
        onNext={pager.next}
        onPrev={pager.prev}
      >
        <DataTable label="Host findings" columns={COLUMNS} data={rows.data?.items ?? []} rowId={(f) => f.id} busy={rows.isFetching} />
      </ListBody>
    </>
  );
}
