/** Finding status transitions (domain.md "Lifecycle"). Pure. */
import { statusFromTestStatus, type FindingStatus, type TestStatus } from './mapping.ts';

export type ChangeReason = 'new' | 'passed' | 'reopened' | 'urba';

export interface StatusChangeDecision {
  from: FindingStatus | null;
  to: FindingStatus;
  reason: ChangeReason;
}

/**
 * The status a finding takes when a report says `testStatus`, and the change to record (null when the
 * status stays). New: created with the mapped status. Open -> Closed: `passed`. Closed (passed or
 * URBA) -> Open: `reopened`.
 */
export function nextStatus(prev: FindingStatus | null, testStatus: TestStatus): { status: FindingStatus; change: StatusChangeDecision | null } {
  const status = statusFromTestStatus(testStatus);
  if (prev === null) return { status, change: { from: null, to: status, reason: 'new' } };
  if (prev === status) return { status, change: null };
  return { status, change: { from: prev, to: status, reason: status === 'Closed' ? 'passed' : 'reopened' } };
}

/** URBA closes an open finding the report did not contain. */
export function urbaChange(): StatusChangeDecision {
  return { from: 'Open', to: 'Closed', reason: 'urba' };
}
