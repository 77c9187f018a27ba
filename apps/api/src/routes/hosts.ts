/** Hosts: list (network, scanner, tag, q = IP or hostname prefix), detail with finding counts. */
import { z } from 'zod';
import type { Collection, Document, Filter } from 'mongodb';
import type { AssessmentDoc, HostDoc } from '@qpc/store/db';
import { notFound } from '../errors.ts';
import { andAll, pageOf, type SortKey } from '../paging.ts';
import type { ServerDeps } from '../server.ts';
import { idParams } from './connector-schemas.ts';
import type { RouteTable } from './registry.ts';
import { pageQuery } from './common.ts';
import { findingsViewOf, openBySeverityOf } from '../queries/findings-view.ts';

const BY_ID: SortKey = { dir: 1 };
const value = z.string().min(1).max(500);

export const hostsQuery = pageQuery.extend({
  network: value.optional(),
  /** scanner name, e.g. QUALYSPC (the host's sources) */
  scanner: value.optional(),
  tag: value.optional(),
  /** IP address or hostname, matched as a prefix (hostnames as given and lower-cased) */
  q: z.string().trim().min(1).max(255).optional(),
});

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function hostsFilter(q: z.output<typeof hostsQuery>): Filter<Document> {
  const eq: Record<string, string> = {};
  if (q.network) eq.network = q.network;
  if (q.scanner) eq.sources = q.scanner;
  if (q.tag) eq.tags = q.tag;
  let search: Filter<Document> | undefined;
  if (q.q) {
    // anchored prefixes: each branch can walk its index (ip, hostname)
    const variants = [...new Set([q.q, q.q.toLowerCase()])].map((v) => `^${escapeRegex(v)}`);
    search = { $or: [{ ip: { $regex: `^${escapeRegex(q.q)}` } }, ...variants.map((r) => ({ hostname: { $regex: r } }))] };
  }
  return andAll([eq, search]);
}

export function hostView(d: HostDoc) {
  return {
    id: d._id,
    network: d.network,
    ip: d.ip,
    hostname: d.hostname,
    dns: d.dns,
    netbios: d.netbios,
    os: d.os,
    qualysHostId: d.qualysHostId,
    trackingMethod: d.trackingMethod,
    lastScanDate: d.lastScanDate,
    tags: d.tags,
    sources: d.sources,
    firstSeen: d.firstSeen,
    lastSeen: d.lastSeen,
  };
}

/**
 * A host's "last seen" is the last assessment of any of its policies when later than its own write: a
 * re-sync does not write a host whose fields did not change. One read of the page's assessments.
 */
async function withHostLastSeen<T extends { lastSeen: Date }>(assessments: Collection<AssessmentDoc>, docs: HostDoc[], items: T[]): Promise<T[]> {
  if (docs.length === 0) return items;
  const found = await assessments
    .find({ $or: docs.map((d) => ({ network: d.network, hostKey: d.hostKey })) }, { projection: { network: 1, hostKey: 1, at: 1 } })
    .toArray();
  const at = new Map<string, Date>();
  for (const a of found) {
    const k = `${a.network}|${a.hostKey}`;
    if (a.at && !(at.get(k)! >= a.at)) at.set(k, a.at);
  }
  return items.map((item, i) => {
    const a = at.get(`${docs[i]!.network}|${docs[i]!.hostKey}`);
    return a && a > item.lastSeen ? { ...item, lastSeen: a } : item;
  });
}

export function hostRoutes(table: RouteTable, deps: ServerDeps) {
  const { hosts, findings, assessments } = deps.store.col;
  table.add({
    method: 'get',
    path: '/api/hosts',
    tag: 'inventory',
    summary: "Hosts (filters: network, scanner, tag, q = IP or hostname prefix), each with its open findings by severity",
    role: 'viewer',
    query: hostsQuery,
    handle: async ({ query }) => {
      const page = await pageOf(hosts, BY_ID, query, (d) => d, hostsFilter(query));
      const [items, open] = await Promise.all([
        withHostLastSeen(assessments, page.items, page.items.map(hostView)),
        openBySeverityOf(deps.store, findingsViewOf(deps.store, deps.findingsViewMax), page.items.map((h) => h._id)),
      ]);
      return { ...page, items: items.map((h) => ({ ...h, openFindingsBySeverity: open.get(h.id) ?? {} })) };
    },
  });
  table.add({
    method: 'get',
    path: '/api/hosts/:id',
    tag: 'inventory',
    summary: 'One host: tags, sources, finding counts by status and severity',
    role: 'viewer',
    params: idParams,
    responses: { 404: 'no such host' },
    handle: async ({ params }) => {
      const d = await hosts.findOne({ _id: params.id });
      if (!d) throw notFound('host', params.id);
      const groups = await findings
        .aggregate<{ _id: { status: string; severity: string | null }; n: number }>([
          { $match: { hostId: d._id } },
          { $group: { _id: { status: '$status', severity: '$severity' }, n: { $sum: 1 } } },
        ])
        .toArray();
      const byStatus: Record<string, number> = {};
      const bySeverity: Record<string, number> = {};
      const byStatusAndSeverity: Record<string, Record<string, number>> = {};
      let total = 0;
      for (const g of groups) {
        const status = g._id.status;
        const severity = g._id.severity ?? 'Unset';
        byStatus[status] = (byStatus[status] ?? 0) + g.n;
        bySeverity[severity] = (bySeverity[severity] ?? 0) + g.n;
        (byStatusAndSeverity[status] ??= {})[severity] = ((byStatusAndSeverity[status] ?? {})[severity] ?? 0) + g.n;
        total += g.n;
      }
      const [view] = await withHostLastSeen(assessments, [d], [hostView(d)]);
      return {
        ...view!,
        hostKey: d.hostKey,
        aliases: d.aliases ?? [],
        firstSeenRunId: d.firstSeenRunId,
        lastRunId: d.lastRunId,
        findingCounts: { total, byStatus, bySeverity, byStatusAndSeverity },
      };
    },
  });
}
