/**
 * Host Findings: rows and facet counts are two requests side by side (facets scan more and must never
 * hold the rows back); filters live in the URL. The browser's performance marks time both for the bench.
 */
import { useEffect } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { get, withQuery } from '../api.ts';
import type { FacetValue, Finding, Page } from '../types.ts';
import { ErrorBox, Loading } from '../components/error-box.tsx';
import { Pager, usePager } from '../components/pager.tsx';
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

export function FindingsPage() {
  const [params, setParams] = useSearchParams();
  const filters: Record<string, string> = {};
  for (const f of FINDING_FILTERS) {
    const v = params.get(f.key);
    if (v) filters[f.key] = v;
  }
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

  const setFilter = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    setParams(next);
  };
  return (
    <>
      <div className="page-head">
        <h1>Host Findings</h1>
        <a className="button" href={withQuery('/api/findings/export.csv', filters)} download="host-findings.csv">
          Export CSV
        </a>
      </div>
      <form className="filters" aria-label="Finding filters" onSubmit={(e) => e.preventDefault()}>
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
      </form>
      <ErrorBox error={facets.error} />
      {rows.isPending && <Loading what="findings" />}
      <ErrorBox error={rows.error} />
      {rows.data && rows.data.items.length === 0 && <p>No finding matches these filters.</p>}
      {rows.data && rows.data.items.length > 0 && (
        <div className="table-wrap">
          <table aria-label="Host findings" aria-busy={rows.isFetching}>
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col">Policy</th>
                <th scope="col">Control</th>
                <th scope="col">Technology</th>
                <th scope="col">Instance</th>
                <th scope="col">Test status</th>
                <th scope="col">Status</th>
                <th scope="col">Severity</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {rows.data.items.map((f) => (
                <tr key={f.id}>
                  <td>
                    {f.ip ?? '—'}
                    {f.hostname && <div className="sub">{f.hostname}</div>}
                  </td>
                  <td>{f.policyId}</td>
                  <th scope="row">
                    <Link to={`/findings/${encodeURIComponent(f.id)}`}>
                      {f.controlId} {short(f.title ?? '', 90)}
                    </Link>
                  </th>
                  <td>{f.technology ?? '—'}</td>
                  <td>{f.instance ?? '—'}</td>
                  <td>{f.testStatus}</td>
                  <td>{f.status}</td>
                  <td>{f.severity ?? 'Not set'}</td>
                  <td>{when(f.lastSeen)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={pager.page} next={rows.data?.next} onNext={pager.next} onPrev={pager.prev} />
    </>
  );
}
