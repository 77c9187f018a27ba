/**
 * Auto URBA decisions (domain.md "Auto URBA"): whether a run may close the open findings its report
 * did not contain. Which findings are candidates (same network, host assessed in this report for the
 * same policy, not in the report, Open) is a query; this decides what to do with them.
 */

export interface RunCompleteness {
  /** the parser reached the report's explicit end */
  readToEnd: boolean;
  /** every batch was written (none failed) */
  allBatchesWritten: boolean;
  findingsParsed: number;
  findingsWritten: number;
  /** results refused by the parser (rejected records) */
  rejected: number;
  hostsParsed: number;
  /** an incremental posture pull: it names only what changed, so it closes nothing by absence */
  incremental?: boolean;
}

/** Records parsed = written + rejected: the parser's finding count plus its rejects against what was stored. */
export function countsAddUp(c: RunCompleteness, rejectedWritten: number = c.rejected): boolean {
  return c.findingsParsed + c.rejected === c.findingsWritten + rejectedWritten;
}

export function isComplete(c: RunCompleteness): boolean {
  return c.readToEnd && c.allBatchesWritten && countsAddUp(c);
}

export type UrbaDecision =
  | { decision: 'off'; reason: string }
  | { decision: 'skipped'; reason: string }
  | { decision: 'threshold'; reason: string }
  | { decision: 'dry-run'; reason: string }
  | { decision: 'apply'; reason: string };

export interface UrbaInput {
  autoUrba: boolean;
  dryRun: boolean;
  completeness: RunCompleteness;
  /** open findings that URBA would close */
  candidates: number;
  /** open findings of the connector's network before URBA */
  openBefore: number;
  /** fraction, default 0.5: more than this share of the open findings in one run stops URBA */
  threshold: number;
}

export const DEFAULT_URBA_THRESHOLD = 0.5;

export function decideUrba(i: UrbaInput): UrbaDecision {
  if (!i.autoUrba) return { decision: 'off', reason: 'auto URBA is off for this connector' };
  const c = i.completeness;
  if (c.incremental) return { decision: 'skipped', reason: 'an incremental posture pull names only what changed: it closes nothing by absence' };
  if (!c.readToEnd) return { decision: 'skipped', reason: 'the report was not read to its explicit end' };
  if (!c.allBatchesWritten) return { decision: 'skipped', reason: 'not every batch was written' };
  if (!countsAddUp(c)) {
    return { decision: 'skipped', reason: `counts do not add up: parsed ${c.findingsParsed}, written ${c.findingsWritten}, rejected ${c.rejected}` };
  }
  if (c.findingsParsed === 0 || c.hostsParsed === 0) return { decision: 'skipped', reason: 'the report is empty' };
  if (i.candidates === 0) return { decision: 'apply', reason: 'nothing to close' };
  if (i.candidates > i.threshold * i.openBefore) {
    return {
      decision: 'threshold',
      reason: `would close ${i.candidates} of ${i.openBefore} open findings (more than ${Math.round(i.threshold * 100)}%): stopped for review`,
    };
  }
  if (i.dryRun) return { decision: 'dry-run', reason: `dry run: would close ${i.candidates}` };
  return { decision: 'apply', reason: `closing ${i.candidates}` };
}
