/**
 * Write one staged batch (see @qpc/store writeBatch) and mark it done; the last batch of a parsed run
 * hands the run to finalize. A batch already done is skipped (its counts stay those of the first write).
 */
import type { Store } from '@qpc/store/db';
import { claimStage, clearBatchFailure, finalizeIfReady, getBatch, markBatchDone } from '@qpc/store/pipeline';
import { resolveHostIdentities, writeBatch } from '@qpc/store/inventory';
import type { Logger } from '@qpc/worker-kit';

export interface UpsertDeps {
  store: Store;
  enqueueFinalize: (runId: string, connectorId: string, generation: number) => Promise<unknown>;
  logger: Logger;
}

export type UpsertResult = { outcome: 'done' | 'skipped'; hosts?: number; findings?: number; reason?: string };

export async function upsertBatch(deps: UpsertDeps, runId: string, seq: number): Promise<UpsertResult> {
  const { store } = deps;
  const batch = await getBatch(store, runId, seq);
  if (batch.done) {
    await finalizeIfReady(store, runId, deps.enqueueFinalize);
    return { outcome: 'skipped', reason: 'batch written already' };
  }
  // claim: a failed batch retried (Bull Board) revives its run (or another retried batch did), which is
  // finalized again afterwards; the batch's failure mark goes once the run is in progress again
  const claim = await claimStage(store, runId, 'write');
  if (claim.status !== 'claimed') return { outcome: 'skipped', reason: claim.status === 'skipped' ? claim.reason : `run is ${claim.run.state}` };
  const { run } = claim;
  if (claim.revived) await clearBatchFailure(store, runId, seq);
  // work: host identity first (a host of the batch with a host id takes over the host known only by its IP,
  // findings included), then the batch
  await resolveHostIdentities(store, { runId, network: run.network }, batch.hosts);
  const r = await writeBatch(store, { runId, network: run.network }, batch.hosts, batch.findings);
  // the done mark also keeps what finalize needs: the changed findings and the keys the batch saw
  const { hosts, findings, pending, created, createdBefore, unchanged, changed, docsWritten, hostsChanged, seen, changes, assessed } = r;
  await markBatchDone(store, runId, seq, { hosts, findings, pending, created, createdBefore, unchanged, changed, docsWritten, hostsChanged, seen, changes, assessed });
  // hand off: the last batch of a parsed run enqueues finalize.
  // No write to the run document here (progress.batchesWritten is set by finalize; the batches' done marks
  // are the live figure): upsert jobs run while the parse worker moves the run on, and FerretDB applies an
  // update as read-modify-write of the whole document, so a concurrent progress update could put back
  // `state: parsing, parse: null` over the parse's hand-off and leave the run waiting for ever.
  await finalizeIfReady(store, runId, deps.enqueueFinalize);
  return { outcome: 'done', hosts: r.hosts, findings: r.findings };
}
