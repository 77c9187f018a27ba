import { stableId } from '@qpc/store/db';

/** A run's id: derived from its sync and what it ingests, so a retried planning job finds its runs. */
export function runIdFor(syncId: string, key: string): string {
  return stableId('run', syncId, key);
}
