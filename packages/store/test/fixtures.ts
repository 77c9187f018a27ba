import { findingKey, hostKey, statusFromTestStatus, severityFromCriticality, type TestStatus } from '@qpc/domain';
import type { FindingRecord, HostRecord } from '@qpc/pc-report';

export function host(n: number, policyId = 'P1', opts: { qid?: string | null; ip?: string } = {}): HostRecord {
  const ip = opts.ip ?? `10.0.${Math.floor(n / 250)}.${n % 250}`;
  const qualysHostId = opts.qid === undefined ? String(1000 + n) : opts.qid;
  return {
    type: 'host',
    hostKey: hostKey({ qualysHostId, ip }) as string,
    policyId,
    ip,
    qualysHostId,
    hostname: `h${n}.example`,
    dns: `h${n}.example`,
    netbios: null,
    os: 'Linux',
    trackingMethod: 'IP',
    lastScanDate: null,
    tags: ['tag-a', `tag-${n % 3}`],
  };
}

export function finding(h: HostRecord, controlId: string, testStatus: TestStatus, instance: string | null = null): FindingRecord {
  return {
    type: 'finding',
    findingKey: findingKey({ hostKey: h.hostKey, policyId: h.policyId, controlId, technology: 'Linux', instance }),
    hostKey: h.hostKey,
    ip: h.ip,
    qualysHostId: h.qualysHostId,
    policyId: h.policyId,
    policyTitle: `Policy ${h.policyId}`,
    controlId,
    statement: `Control ${controlId}`,
    technology: 'Linux',
    technologyId: '1',
    instance,
    testStatus,
    status: statusFromTestStatus(testStatus),
    severity: severityFromCriticality(3),
    criticalityLabel: 'SERIOUS',
    criticalityValue: 3,
    expected: 'x',
    actual: testStatus === 'Passed' ? 'x' : 'y',
    rationale: null,
    remediation: null,
    evaluationDate: null,
    previousStatus: null,
    firstFailDate: null,
    lastFailDate: null,
    firstPassDate: null,
    lastPassDate: null,
    causeOfFailure: null,
    controlReferences: null,
    deprecated: null,
    exception: null,
  };
}
