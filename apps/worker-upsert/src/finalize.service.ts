/** Finalize a run (counts, transitions, URBA: @qpc/store finalizeRun), then go on with its sync. */
import { continueSync, endStage, finalizeRun, type Store } from '@qpc/store';
import type { Logger } from '@qpc/worker-kit';

export interface FinalizeDeps {
  store: Store;
  enqueueFetch: (runId: string, connectorId: string) => Promise<unknown>;
  logger: Logger;
  urbaThreshold: number;
}

export async function finalize(deps: FinalizeDeps, runId: string): Promise<{ outcome: 'done'; state: string }> {
  await endStage(deps.store, runId, 'write');
  const run = await finalizeRun(deps.store, runId, { threshold: deps.urbaThreshold });
  await continueSync(deps.store, run.syncId, run.connectorId, deps.enqueueFetch);
  deps.logger.info({ runId, state: run.state, counts: run.counts, urba: run.urba?.decision }, 'run finalized');
  return { outcome: 'done', state: run.state };
}
