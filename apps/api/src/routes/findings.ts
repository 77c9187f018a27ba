/**
 * Host findings: list with every filter of the guide (and ours), facets (each filter's distinct values
 * with counts under the other filters), detail.
 *
 * Facets in one pass: the documents that pass all filters but at most one are exactly the union of
 * every facet's scope, so one query (an $or of "all filters but f", each branch served by an index
 * on MongoDB) streams them with a narrow projection and the counting happens here. FerretDB has no
 * $facet and pushes no filter down, so one aggregation per facet meant twelve full scans: 25 s on
 * 6,000 findings there, against one scan this way.
 *
 * On FerretDB even that one scan, and every sorted page, reads the whole collection per request: there
 * the list and the facets come from the API's snapshot of the findings (queries/findings-view.ts),
 * with the same filters, cursor and counting rules as the queries here.
 */
import { z } from 'zod';
import type { Collection, Filter } from 'mongodb';
import type { AssessmentDoc, FindingDoc } from '@qpc/store/db';
import { FINDING_FILTER_FIELDS } from '@qpc/store/db';
import { notFound } from '../errors.ts';
import { afterCursor, cursorAfter, pageOf, type Page, type SortKey } from '../paging.ts';
import type { ServerDeps } from '../server.ts';
import { idParams } from './connector-schemas.ts';
import type { RouteTable } from './registry.ts';
import { countParam, pageQuery } from './common.ts';
import { streamFindingsCsv } from './findings-export.ts';
import { findingsViewOf, VIEW_PROJECTION, type FindingsSnapshot, type ViewDoc } from '../queries/findings-view.ts';

const BY_ID: SortKey = { dir: 1 };
const value = z.string().min(1).max(2000);

export type FindingFilter = keyof typeof FINDING_FILTER_FIELDS;
export const FINDING_FILTERS = Object.keys(FINDING_FILTER_FIELDS) as FindingFilter[];

/** `severity=Unset` (and `technology=Unset`, ...) selects findings where the field is missing or null. */
export const UNSET = 'Unset';

const filterShape = {
  testStatus: z.enum(['Passed', 'Failed', 'Error']).optional(),
  technology: value.optional(),
  expectedResult: value.optional(),
  actualResult: value.optional(),
  scanner: value.optional(),
  network: value.optional(),
  severity: z.enum(['Critical', 'High', 'Medium', 'Low', 'Info', UNSET]).optional(),
  status: z.enum(['Open', 'Closed']).optional(),
  policyId: value.optional(),
  controlId: value.optional(),
  /** a host id (from /api/hosts) */
  host: value.optional(),
  tag: value.optional(),
} satisfies Record<FindingFilter, z.ZodType>;

export const findingsQuery = pageQuery.extend(filterShape);
export const exportQuery = z.object(filterShape);
export const facetsQuery = z.object({ ...filterShape, size: countParam(500, 50) });

type Filters = Partial<Record<FindingFilter, string>>;

export function findingsMatch(q: Filters, except?: FindingFilter): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  for (const f of FINDING_FILTERS) {
    const v = q[f];
    if (v === undefined || f === except) continue;
    m[FINDING_FILTER_FIELDS[f]] = v === UNSET ? null : v;
  }
  return m;
}

/**
 * When the finding's status last changed: the newest entry of its status history (a finding written
 * before history was kept: its first sighting).
 */
export function lastChangedOf(d: Pick<FindingDoc, 'history' | 'firstSeen'>): Date | null {
  let at: Date | null = null;
  for (const h of d.history ?? []) if (h.at instanceof Date && (!at || h.at > at)) at = h.at;
  return at ?? d.firstSeen ?? null;
}

export function findingItem(d: ViewDoc) {
  return {
    id: d._id,
    network: d.network,
    hostId: d.hostId,
    ip: d.ip,
    hostname: d.hostname,
    policyId: d.policyId,
    controlId: d.controlId,
    title: d.title,
    instance: d.instance,
    testStatus: d.testStatus,
    status: d.status,
    severity: d.severity,
    technology: d.technology,
    expected: d.expected,
    actual: d.actual,
    scanner: d.scanner,
    tags: d.tags,
    lastSeen: d.lastSeen,
    /** the last status change (history), not the last sighting */
    lastChanged: lastChangedOf(d),
  };
}

const ITEM_PROJECTION = VIEW_PROJECTION;

/**
 * A finding's "last seen" is when a run last assessed its host x policy (the assessment's date): a re-sync
 * does not write a finding the report did not change. The finding's own date counts when later (documents
 * written before assessments carried a date). One read of the page's assessments.
 */
async function withLastSeen<T extends { lastSeen: Date }>(assessments: Collection<AssessmentDoc>, docs: ViewDoc[], items: T[]): Promise<T[]> {
  if (docs.length === 0) return items;
  const scopes = [...new Map(docs.map((d) => [`${d.network}|${d.hostKey}|${d.policyId}`, { network: d.network, hostKey: d.hostKey, policyId: d.policyId }])).values()];
  const found = await assessments.find({ $or: scopes }, { projection: { network: 1, hostKey: 1, policyId: 1, at: 1 } }).toArray();
  const at = new Map(found.filter((a) => a.at).map((a) => [`${a.network}|${a.hostKey}|${a.policyId}`, a.at as Date]));
  return items.map((item, i) => {
    const d = docs[i]!;
    const a = at.get(`${d.network}|${d.hostKey}|${d.policyId}`);
    return a && a > item.lastSeen ? { ...item, lastSeen: a } : item;
  });
}

export interface FacetValue {
  value: string | null;
  count: number;
  /** host facet: the host's IP and hostname */
  label?: string;
}

type FacetDoc = Partial<Record<string, unknown>>;

function passes(d: FacetDoc, f: FindingFilter, value: string): boolean {
  const v = d[FINDING_FILTER_FIELDS[f]];
  if (f === 'tag') return Array.isArray(v) && v.includes(value);
  return value === UNSET ? v === null || v === undefined : v === value;
}

export async function countFacets(
  findings: Collection<FindingDoc>,
  q: Filters,
  size: number,
): Promise<{ facets: Partial<Record<FindingFilter, FacetValue[]>>; truncated: FindingFilter[] }> {
  const active = FINDING_FILTERS.filter((f) => q[f] !== undefined);
  const match = active.length <= 1 ? {} : { $or: active.map((f) => findingsMatch(q, f)) };
  const projection: Record<string, 1 | 0> = { _id: 0 };
  for (const f of FINDING_FILTERS) projection[FINDING_FILTER_FIELDS[f]] = 1;
  return countFacetsOf(findings.find(match as Filter<FindingDoc>, { projection, batchSize: 2000 }) as AsyncIterable<FacetDoc>, q, size);
}

/** The facet counts of the documents given (any superset of the facets' scopes; the others are skipped). */
export async function countFacetsOf(
  source: AsyncIterable<FacetDoc> | Iterable<FacetDoc>,
  q: Filters,
  size: number,
): Promise<{ facets: Partial<Record<FindingFilter, FacetValue[]>>; truncated: FindingFilter[] }> {
  const active = FINDING_FILTERS.filter((f) => q[f] !== undefined);
  const counts = new Map<FindingFilter, Map<string | null, number>>(FINDING_FILTERS.map((f) => [f, new Map()]));
  const inc = (m: Map<string | null, number>, v: unknown) => {
    const key = v === null || v === undefined ? null : String(v);
    m.set(key, (m.get(key) ?? 0) + 1);
  };
  for await (const d of source) {
    let failed: FindingFilter | undefined;
    let fails = 0;
    for (const f of active) {
      if (!passes(d, f, q[f]!)) {
        fails += 1;
        failed = f;
        if (fails > 1) break;
      }
    }
    if (fails > 1) continue;
    for (const f of FINDING_FILTERS) {
      // a document failing one filter counts only in that filter's facet (its scope ignores it)
      if (fails === 1 && f !== failed) continue;
      const v = d[FINDING_FILTER_FIELDS[f]];
      const m = counts.get(f)!;
      if (f === 'tag') for (const tag of Array.isArray(v) ? v : []) inc(m, tag);
      else inc(m, v);
    }
  }
  const facets: Partial<Record<FindingFilter, FacetValue[]>> = {};
  const truncated: FindingFilter[] = [];
  for (const f of FINDING_FILTERS) {
    const rows = [...counts.get(f)!].sort((a, b) => b[1] - a[1] || String(a[0] ?? '').localeCompare(String(b[0] ?? '')));
    if (rows.length > size) truncated.push(f);
    facets[f] = rows.slice(0, size).map(([value, count]) => ({ value, count }));
  }
  return { facets, truncated };
}

/** One page of the snapshot under the filters, in _id order after the cursor (same cursor as pageOf). */
function pageOfSnapshot(snap: FindingsSnapshot, q: Filters & { cursor?: string | undefined; limit: number }): Page<ViewDoc> {
  const active = FINDING_FILTERS.filter((f) => q[f] !== undefined);
  const after = afterCursor(BY_ID, q.cursor) as { _id: { $gt: string } } | undefined;
  const from = after?._id.$gt;
  // the first document after the cursor, by binary search on the sorted ids
  let lo = 0;
  let hi = snap.docs.length;
  while (from !== undefined && lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (snap.docs[mid]!._id <= from) lo = mid + 1;
    else hi = mid;
  }
  const out: ViewDoc[] = [];
  for (let i = lo; i < snap.docs.length; i++) {
    const d = snap.docs[i]!;
    if (!active.every((f) => passes(d as FacetDoc, f, q[f]!))) continue;
    out.push(d);
    if (out.length > q.limit) break;
  }
  const more = out.length > q.limit;
  const items = more ? out.slice(0, q.limit) : out;
  const last = items[items.length - 1];
  return { items, next: more && last ? cursorAfter(BY_ID, last) : null };
}

export function findingRoutes(table: RouteTable, deps: ServerDeps) {
  const { findings, hosts, assessments } = deps.store.col;
  const view = findingsViewOf(deps.store, deps.findingsViewMax);

  table.add({
    method: 'get',
    path: '/api/findings',
    tag: 'inventory',
    summary: 'Host findings, with every filter (testStatus, technology, expectedResult, actualResult, scanner, network, severity, status, policyId, controlId, host, tag)',
    role: 'viewer',
    query: findingsQuery,
    handle: async ({ query }) => {
      const snap = await view.current();
      const page = snap
        ? pageOfSnapshot(snap, query)
        : await pageOf(findings, BY_ID, query, (d) => d as ViewDoc, findingsMatch(query), { projection: ITEM_PROJECTION });
      return { ...page, items: await withLastSeen(assessments, page.items, page.items.map(findingItem)) };
    },
  });

  table.add({
    method: 'get',
    path: '/api/findings/facets',
    tag: 'inventory',
    summary: "Each filter's distinct values with counts, under the other filters (most frequent first, `size` per filter)",
    role: 'viewer',
    query: facetsQuery,
    handle: async ({ query }) => {
      const snap = await view.current();
      const { facets, truncated } = snap ? await countFacetsOf(snap.docs as FacetDoc[], query, query.size) : await countFacets(findings, query, query.size);
      const hostFacet = facets.host ?? [];
      const ids = hostFacet.map((h) => h.value).filter((v): v is string => v !== null);
      if (snap) {
        // the findings carry their host's ip and hostname (a $in on hosts reads them all on FerretDB)
        const want = new Set(ids);
        const label = new Map<string, string>();
        for (const d of snap.docs) if (want.has(d.hostId) && !label.has(d.hostId)) label.set(d.hostId, [d.ip, d.hostname].filter(Boolean).join(' '));
        for (const h of hostFacet) if (h.value !== null && label.has(h.value)) h.label = label.get(h.value) ?? '';
      } else if (ids.length) {
        const found = await hosts.find({ _id: { $in: ids } }, { projection: { ip: 1, hostname: 1 } }).toArray();
        const label = new Map(found.map((h) => [h._id, [h.ip, h.hostname].filter(Boolean).join(' ')]));
        for (const h of hostFacet) if (h.value !== null && label.has(h.value)) h.label = label.get(h.value) ?? '';
      }
      return { facets, truncated };
    },
  });

  // before /api/findings/:id, which would take "export.csv" for an id
  table.add({
    method: 'get',
    path: '/api/findings/export.csv',
    tag: 'inventory',
    summary: 'The findings of the same filters as GET /api/findings, streamed as CSV (header row, RFC 4180, formula cells neutralised)',
    role: 'viewer',
    query: exportQuery,
    produces: 'text/csv',
    handle: ({ query, res }) => streamFindingsCsv(findings, findingsMatch(query), res),
  });

  table.add({
    method: 'get',
    path: '/api/findings/:id',
    tag: 'inventory',
    summary: 'One finding: technology, observations (test status), output (expected, actual), status history',
    role: 'viewer',
    params: idParams,
    responses: { 404: 'no such finding' },
    handle: async ({ params }) => {
      const d = await findings.findOne({ _id: params.id });
      if (!d) throw notFound('finding', params.id);
      const [item] = await withLastSeen(assessments, [d], [findingItem(d)]);
      return {
        ...item!,
        findingKey: d.findingKey,
        hostKey: d.hostKey,
        policyTitle: d.policyTitle,
        technologyId: d.technologyId,
        criticality: { label: d.criticalityLabel, value: d.criticalityValue },
        observations: { testStatus: d.testStatus, evaluationDate: d.evaluationDate, exception: d.exception },
        output: { expected: d.expected, actual: d.actual },
        rationale: d.rationale,
        remediation: d.remediation,
        firstSeen: d.firstSeen,
        firstSeenRunId: d.firstSeenRunId,
        lastSeenRunId: d.lastSeenRunId,
        closedAt: d.closedAt,
        closedReason: d.closedReason,
        reopenCount: d.reopenCount,
        history: d.history,
      };
    },
  });
}
