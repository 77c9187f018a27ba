/**
 * Compliance posture read from the findings in one pass (FerretDB computes one accumulator per $group
 * and scans for every keyed query, so one narrow cursor counted here beats an aggregation per figure).
 * Findings closed by URBA are out of scope (their host no longer reports the control) and not counted.
 */
import type { Collection, Filter } from 'mongodb';
import type { FindingDoc } from '@qpc/store/db';

export const SEVERITY_KEYS = ['Critical', 'High', 'Medium', 'Low', 'Info', 'Unknown'] as const;
export type SeverityCounts = Record<(typeof SEVERITY_KEYS)[number], number>;

export const emptySeverities = (): SeverityCounts => ({ Critical: 0, High: 0, Medium: 0, Low: 0, Info: 0, Unknown: 0 });

const severityKey = (s: unknown): keyof SeverityCounts =>
  typeof s === 'string' && (SEVERITY_KEYS as readonly string[]).includes(s) ? (s as keyof SeverityCounts) : 'Unknown';

export interface PolicyPosture {
  policyId: string;
  title: string | null;
  passed: number;
  failed: number;
  error: number;
  /** passed / (passed + failed + error), 0..1 */
  passRate: number;
}

export interface NetworkPosture {
  openBySeverity: SeverityCounts;
  policies: PolicyPosture[];
  topFailingControls: { controlId: string; title: string | null; hosts: number }[];
}

type Row = Pick<FindingDoc, 'network' | 'status' | 'severity' | 'policyId' | 'policyTitle' | 'testStatus' | 'controlId' | 'title' | 'hostKey' | 'closedReason'>;
const PROJECTION = { _id: 0, network: 1, status: 1, severity: 1, policyId: 1, policyTitle: 1, testStatus: 1, controlId: 1, title: 1, hostKey: 1, closedReason: 1 };

export async function postureByNetwork(findings: Collection<FindingDoc>, networks: readonly string[], topControls = 10): Promise<Map<string, NetworkPosture>> {
  interface Acc {
    open: SeverityCounts;
    policies: Map<string, { title: string | null; passed: number; failed: number; error: number }>;
    failing: Map<string, { title: string | null; hosts: Set<string> }>;
  }
  const acc = new Map<string, Acc>(networks.map((n) => [n, { open: emptySeverities(), policies: new Map(), failing: new Map() }]));
  const where: Filter<FindingDoc> = { network: { $in: [...networks] } };
  for await (const d of findings.find(where, { projection: PROJECTION, batchSize: 2000 }) as AsyncIterable<Row>) {
    const a = acc.get(d.network);
    if (!a || d.closedReason === 'urba') continue;
    if (d.status === 'Open') a.open[severityKey(d.severity)] += 1;
    let p = a.policies.get(d.policyId);
    if (!p) a.policies.set(d.policyId, (p = { title: d.policyTitle ?? null, passed: 0, failed: 0, error: 0 }));
    if (d.testStatus === 'Passed') p.passed += 1;
    else if (d.testStatus === 'Failed') p.failed += 1;
    else if (d.testStatus === 'Error') p.error += 1;
    if (d.testStatus === 'Failed' && d.status === 'Open') {
      let c = a.failing.get(d.controlId);
      if (!c) a.failing.set(d.controlId, (c = { title: d.title ?? null, hosts: new Set() }));
      c.hosts.add(d.hostKey);
    }
  }
  const out = new Map<string, NetworkPosture>();
  for (const [network, a] of acc) {
    out.set(network, {
      openBySeverity: a.open,
      policies: [...a.policies]
        .map(([policyId, p]) => {
          const total = p.passed + p.failed + p.error;
          return { policyId, title: p.title, passed: p.passed, failed: p.failed, error: p.error, passRate: total ? p.passed / total : 0 };
        })
        .sort((x, y) => x.policyId.localeCompare(y.policyId)),
      topFailingControls: [...a.failing]
        .map(([controlId, c]) => ({ controlId, title: c.title, hosts: c.hosts.size }))
        .sort((x, y) => y.hosts - x.hosts || x.controlId.localeCompare(y.controlId))
        .slice(0, topControls),
    });
  }
  return out;
}

/** Open findings of one network by severity (URBA-closed ones are closed, so not counted). */
export async function openBySeverity(findings: Collection<FindingDoc>, network: string): Promise<SeverityCounts> {
  const counts = emptySeverities();
  for await (const d of findings.find({ network, status: 'Open' }, { projection: { _id: 0, severity: 1 }, batchSize: 2000 })) {
    counts[severityKey(d.severity)] += 1;
  }
  return counts;
}
