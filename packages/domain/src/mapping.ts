/** Status and severity rules of domain.md, and the natural keys of hosts and findings. */
import { hash } from 'node:crypto';

export const SCANNER = 'QUALYSPC';

export type TestStatus = 'Passed' | 'Failed' | 'Error';
export type FindingStatus = 'Open' | 'Closed';
export type Severity = 'Critical' | 'High' | 'Medium' | 'Low' | 'Info';

export const TEST_STATUSES: readonly TestStatus[] = ['Passed', 'Failed', 'Error'];
export const FINDING_STATUSES: readonly FindingStatus[] = ['Open', 'Closed'];
export const SEVERITIES: readonly Severity[] = ['Critical', 'High', 'Medium', 'Low', 'Info'];

/** Report status text in any letter case -> test status, or null when it is not one of the three. */
export function parseTestStatus(text: string | null | undefined): TestStatus | null {
  switch (text?.trim().toLowerCase()) {
    case 'passed':
      return 'Passed';
    case 'failed':
      return 'Failed';
    case 'error':
      return 'Error';
    default:
      return null;
  }
}

/** Passed -> Closed; Failed and Error -> Open (an unverifiable control is not a fixed one). */
export function statusFromTestStatus(s: TestStatus): FindingStatus {
  return s === 'Passed' ? 'Closed' : 'Open';
}

/**
 * Severity from the criticality VALUE (labels can be renamed in Qualys, values cannot).
 * Anything but 1-5 gives null: never guessed.
 */
export function severityFromCriticality(value: number | null | undefined): Severity | null {
  switch (value) {
    case 5:
      return 'Critical';
    case 4:
      return 'High';
    case 3:
      return 'Medium';
    case 2:
      return 'Low';
    case 1:
      return 'Info';
    default:
      return null;
  }
}

/** Qualys default labels, used only when a report gives a value but no label. */
export const DEFAULT_CRITICALITY_LABELS: Record<number, string> = {
  5: 'URGENT',
  4: 'CRITICAL',
  3: 'SERIOUS',
  2: 'MEDIUM',
  1: 'MINIMAL',
};

/** Lower-cased, trimmed IP (IPv6 hex digits compare case-insensitively). */
export function normalizeIp(ip: string): string {
  return ip.trim().toLowerCase();
}

/**
 * Host identity inside a network: the Qualys host id when present, else the IP.
 * Returns null when the host has neither (such a host is rejected).
 */
export function hostKey(h: { qualysHostId?: string | null; ip?: string | null }): string | null {
  const id = h.qualysHostId?.trim();
  if (id) return `qid:${id}`;
  const ip = h.ip?.trim();
  if (ip) return `ip:${normalizeIp(ip)}`;
  return null;
}

/**
 * One finding per host x policy x control x technology x instance. Technology is keyed by its name
 * (always present in every report variant, unlike its id), case-folded and trimmed.
 */
export function findingKey(f: {
  hostKey: string;
  policyId: string;
  controlId: string;
  technology?: string | null;
  instance?: string | null;
}): string {
  const parts = [
    f.hostKey,
    f.policyId.trim(),
    f.controlId.trim(),
    (f.technology ?? '').trim().toLowerCase(),
    (f.instance ?? '').trim(),
  ];
  // one-shot hash: same digest as createHash().update().digest(), without a Hash object per finding
  return hash('sha1', JSON.stringify(parts), 'hex');
}
