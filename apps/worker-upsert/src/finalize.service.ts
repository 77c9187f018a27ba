/**
 * Finalize a run (counts, transitions, URBA: @qpc/store finalizeRun), go on with its sync, then prune
 * the connector's stored report files to the retention count (@qpc/store pruneReportFiles). The sync
 * goes on first: a retention sweep that fails retries this job (finalize is idempotent) without
 * holding up the next report; the files of runs in progress are never pruned.
 */
import { continueSync, DEFAULT_REPORT_RETENTION, endStage, finalizeRun, getRun, isTerminal, pruneReportFiles, reviveRun, type StatementCounts, type StatementTimes, type Store } from '@qpc/store';
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
  const before = await getRun(deps.store, runId);
  if (before.state === 'failed' && before.error?.stage === 'finalize' && before.error.class !== 'RUN_INCOMPLETE') {
    // a finalize job that failed for good, retried (Bull Board): the run it failed is revived and finalized
    // (an incomplete run's own end is not a failure: it stays as it is)
    await reviveRun(deps.store, runId, 'writing');
  }
  await endStage(deps.store, runId, 'write');
  const run = await finalizeRun(deps.store, runId, { threshold: deps.urbaThreshold });
  await continueSync(deps.store, run.syncId, run.connectorId, deps.enqueueFetch);
  deps.logger.info({ runId, state: run.state, counts: run.counts, urba: run.urba?.decision, findingStatements: deps.statements, statementTimes: deps.statementTimes }, 'run finalized');
  if (run.capacity) deps.logger.warn({ runId, connectorId: run.connectorId, findings: run.capacity.findings, limit: run.capacity.limit }, run.capacity.message);
  if (isTerminal(run.state)) {
    const files = await pruneReportFiles(deps.store, run.connectorId, { keep: deps.reportRetention ?? DEFAULT_REPORT_RETENTION });
    if (files.removed > 0) deps.logger.info({ runId, connectorId: run.connectorId, ...files }, 'report files pruned');
  }
  return { outcome: 'done', state: run.state };
}
