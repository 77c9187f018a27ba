/** Deterministic hosts and findings shaped like the pipeline's documents, written straight to MongoDB. */
import type { FindingDoc, HostDoc, Store } from '@qpc/store/db';

export const NETWORKS = ['net-a', 'net-b'];
const TAGS = ['Windows', 'Linux', 'PCI', 'DMZ'];
const TECH = ['Windows 2019', 'RHEL 8', 'Oracle 19c'];
const SEV = ['Critical', 'High', 'Medium', 'Low', 'Info', null] as const;
const TEST = ['Passed', 'Failed', 'Error'] as const;

export function makeHosts(n: number): HostDoc[] {
  const now = new Date('2026-11-01T00:00:00Z');
  return Array.from({ length: n }, (_, i) => {
    const network = NETWORKS[i % 2]!;
    const ip = `10.${i % 2}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const tags = [TAGS[i % 4]!, ...(i % 3 === 0 ? [TAGS[(i + 2) % 4]!] : [])];
    return {
      _id: `h${String(i).padStart(4, '0')}`,
      network,
      hostKey: i % 5 === 0 ? `ip:${ip}` : `qid:${1000 + i}`,
      qualysHostId: i % 5 === 0 ? null : String(1000 + i),
      ip,
      hostname: i % 7 === 0 ? null : `host-${i}.corp.example`,
      dns: i % 7 === 0 ? null : `host-${i}.corp.example`,
      netbios: `HOST${i}`,
      os: i % 2 ? 'Windows Server 2019' : 'Red Hat Enterprise Linux 8',
      trackingMethod: 'IP',
      lastScanDate: '2026-10-30T10:00:00Z',
      tags,
      sources: ['QUALYSPC'],
      firstSeen: now,
      lastSeen: now,
      firstSeenRunId: 'run-1',
      lastRunId: 'run-1',
    };
  });
}

export function makeFindings(hosts: HostDoc[], policies = ['P1', 'P2'], controls = 3): FindingDoc[] {
  const out: FindingDoc[] = [];
  const now = new Date('2026-11-01T00:00:00Z');
  let k = 0;
  for (const h of hosts) {
    for (const policyId of policies) {
      for (let c = 1; c <= controls; c++) {
        k += 1;
        const mix = Math.imul(k, 2654435761) >>> 0;
        const testStatus = TEST[mix % 3]!;
        const severity = SEV[(mix >>> 8) % 6] ?? null;
        const instance = c === controls ? `inst-${k % 2}` : null;
        const technology = TECH[(c + k) % 3]!;
        out.push({
          _id: `f${String(k).padStart(6, '0')}`,
          network: h.network,
          findingKey: `${h.hostKey}|${policyId}|${c}|${technology}|${instance ?? ''}`,
          hostKey: h.hostKey,
          hostId: h._id,
          ip: h.ip,
          hostname: h.hostname,
          tags: h.tags,
          scanner: 'QUALYSPC',
          policyId,
          policyTitle: `Policy ${policyId}`,
          controlId: String(1000 + c),
          title: `Control ${c} statement`,
          technology,
          technologyId: String((c + k) % 3),
          instance,
          testStatus,
          status: testStatus === 'Passed' ? 'Closed' : 'Open',
          severity,
          criticalityLabel: severity ?? 'Unknown',
          criticalityValue: severity ? 5 - SEV.indexOf(severity) : null,
          expected: `expected value ${c % 3}`,
          actual: `actual value ${(mix >>> 16) % 4}`,
          rationale: null,
          remediation: 'fix it',
          evaluationDate: '2026-10-30T10:00:00Z',
          exception: null,
          firstSeen: now,
          lastSeen: now,
          firstSeenRunId: 'run-1',
          lastSeenRunId: 'run-1',
          closedAt: testStatus === 'Passed' ? now : null,
          closedReason: testStatus === 'Passed' ? 'passed' : null,
          reopenCount: 0,
          statusRunId: 'run-1',
          statusReason: 'new',
          history: [{ at: now, runId: 'run-1', from: null, to: testStatus === 'Passed' ? 'Closed' : 'Open', reason: 'new' }],
          pending: null,
        });
      }
    }
  }
  return out;
}

export async function seedInventory(store: Store, hosts: HostDoc[], findings: FindingDoc[]) {
  for (let i = 0; i < hosts.length; i += 500) await store.col.hosts.insertMany(hosts.slice(i, i + 500));
  for (let i = 0; i < findings.length; i += 500) await store.col.findings.insertMany(findings.slice(i, i + 500));
}
