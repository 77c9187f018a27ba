/**
 * Finalize a run (counts, transitions, URBA: @qpc/store finalizeRun), go on with its sync, then prune
 * the connector's stored report files to the retention count (@qpc/store pruneReportFiles). The sync
 * goes on first: a retention sweep that fails retries this job (finalize is idempotent) without
 * holding up the next report; the files of runs in progress are never pruned.
 */
import type { StatementCounts, StatementTimes, Store } from '@qpc/store/db';
import { claimStage, continueSync, finalizeRun, isTerminal } from '@qpc/store/pipeline';
import { DEFAULT_REPORT_RETENTION, pruneReportFiles } from '@qpc/store/files';
import type { Logger } from '@qpc/worker-kit';

export interface FinalizeDeps {
  store: Store;
  enqueueFetch: (runId: string, connectorId: string) => Promise<unknown>;
  logger: Logger;
  urbaThreshold: number;
  /** report files kept per connector (config QPC_REPORT_RETENTION; default 3) */
  reportRetention?: number;
  /** statements this process sent to the findings collection so far (logged with each finalized run) */
  statements?: StatementCounts;
  /** every statement of this process so far, by collection and command, with the server's time for them (a profile) */
  statementTimes?: StatementTimes;
}

export async function finalize(deps: FinalizeDeps, runId: string): Promise<{ outcome: 'done'; state: string }> {
  // claim: a finalize job that failed for good, retried (Bull Board), revives the run it failed (an
  // incomplete run's own end is not a failure: it stays as it is); an ended run is handed on again
  const claim = await claimStage(deps.store, runId, 'finalize');
  if (claim.status === 'skipped') return { outcome: 'done', state: claim.run?.state ?? 'unknown' };
  // work: counts, transitions, URBA, the run's end (finalizeRun); hand off: the sync's next run
  const run = claim.status === 'claimed' ? await finalizeRun(deps.store, runId, { threshold: deps.urbaThreshold }) : claim.run;
  await continueSync(deps.store, run.syncId, run.connectorId, deps.enqueueFetch);
  deps.logger.info({ runId, state: run.state, counts: run.counts, urba: run.urba?.decision, findingStatements: deps.statements, statementTimes: deps.statementTimes }, 'run finalized');
  if (run.capacity) deps.logger.warn({ runId, connectorId: run.connectorId, findings: run.capacity.findings, limit: run.capacity.limit }, run.capacity.message);
  if (isTerminal(run.state)) {
    const files = await pruneReportFiles(deps.store, run.connectorId, { keep: deps.reportRetention ?? DEFAULT_REPORT_RETENTION });
    if (files.removed > 0) deps.logger.info({ runId, connectorId: run.connectorId, ...files }, 'report files pruned');
  }
  return { outcome: 'done', state: run.state };
}
