/** Builders for hand-written expected records (absent fields null, keys from @qpc/domain) and input helpers. */
import { readFileSync } from 'node:fs';
import { findingKey } from '@qpc/domain';
import { parseReportToArray, type ParseReportOptions } from '../src/parse-report.ts';
import type { FindingRecord, HeaderRecord, HostRecord, RejectedRecord, ReportRecord, SummaryRecord } from '../src/records.ts';

export const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

type Req<T, K extends keyof T> = Partial<T> & Pick<T, K>;

export function header(p: Req<HeaderRecord, 'root'> & { declared?: Partial<HeaderRecord['declared']> }): HeaderRecord {
  return {
    type: 'header',
    title: null,
    generatedAt: null,
    company: null,
    userName: null,
    userLogin: null,
    ...p,
    declared: { totalHosts: null, totalControls: null, totalControlInstances: null, passed: null, failed: null, error: null, ...p.declared },
  };
}

export function host(p: Req<HostRecord, 'hostKey' | 'policyId'>): HostRecord {
  return {
    type: 'host',
    ip: null,
    qualysHostId: null,
    hostname: null,
    dns: null,
    netbios: null,
    os: null,
    trackingMethod: null,
    lastScanDate: null,
    tags: [],
    ...p,
  };
}

export function finding(p: Req<FindingRecord, 'hostKey' | 'policyId' | 'controlId' | 'testStatus' | 'status'>): FindingRecord {
  const r: FindingRecord = {
    type: 'finding',
    findingKey: '',
    ip: null,
    qualysHostId: null,
    policyTitle: null,
    statement: null,
    technology: null,
    technologyId: null,
    instance: null,
    severity: null,
    criticalityLabel: 'Unknown',
    criticalityValue: null,
    expected: null,
    actual: null,
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
    ...p,
  };
  r.findingKey = findingKey(r);
  return r;
}

/** A rejected record; `message` is checked separately (it must name the line). */
export function rejected(p: Req<RejectedRecord, 'reason' | 'line'>): Omit<RejectedRecord, 'message'> {
  return { type: 'rejected', policyId: null, hostKey: null, ip: null, controlId: null, ...p };
}

export function summary(p: Partial<SummaryRecord>): SummaryRecord {
  return { type: 'summary', hosts: 0, findings: 0, passed: 0, failed: 0, error: 0, rejected: 0, policies: 0, bytes: 0, invalidUtf8: 0, ...p };
}

/** The buffer as an async iterable of chunks of the given sizes (the last size repeats). */
export async function* chunked(buf: Uint8Array, ...sizes: number[]): AsyncGenerator<Uint8Array> {
  let off = 0;
  let i = 0;
  while (off < buf.length) {
    const n = sizes[Math.min(i++, sizes.length - 1)] ?? buf.length;
    yield buf.subarray(off, off + n);
    off += n;
  }
}

export function parse(buf: Uint8Array | string, opts: ParseReportOptions = {}, ...sizes: number[]): Promise<ReportRecord[]> {
  const b = typeof buf === 'string' ? Buffer.from(buf) : buf;
  return parseReportToArray(chunked(b, ...(sizes.length ? sizes : [b.length || 1])), opts);
}

/** Records without the free-text message of rejected records (returned apart). */
export function split(records: ReportRecord[]): { records: unknown[]; messages: string[] } {
  const messages: string[] = [];
  const out = records.map((r) => {
    if (r.type !== 'rejected') return r;
    messages.push(r.message);
    const { message: _m, ...rest } = r;
    return rest;
  });
  return { records: out, messages };
}
