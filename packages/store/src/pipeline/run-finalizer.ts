/** Finalize one run: transitions, URBA, counts, final state, report recorded as ingested. */
import { isComplete, DEFAULT_URBA_THRESHOLD } from '@qpc/domain';
import type { Store } from '../db/store.ts';
import type { RunDoc, RunState, RunUrba } from '../db/documents.ts';
import { advanceRun, completeStage, getRun, isTerminal } from './runs.repository.ts';
import { applyPendingChanges, applyUrba, deriveCounts, dropPendingChanges, runCompleteness, type UrbaOptions } from '../inventory/finalize-run.ts';
import { batchStats, keepSeenOfLastCompleteRun, stampAssessments } from './batches.repository.ts';
import { applyBySlot, applyStagedChanges } from '../inventory/apply-changes.ts';
import { replayRewrites } from '../inventory/rewrite-docs.ts';
import { forgetSnapshot } from '../inventory/finding-state.ts';
import { forgetIdentities } from '../inventory/host-identity.ts';
import { forgetKnownScopes } from '../inventory/known-scopes.ts';
import { capacityWarning } from '../db/db-mode.ts';

export interface FinalizeOptions {
  /** default URBA threshold (config QPC_URBA_THRESHOLD); a connector's own urbaThreshold wins */
  threshold?: number;
  now?: Date;
  /** findings the embedded database is taken to sync in time (default FERRETDB_CAPACITY_FINDINGS, db-mode.ts) */
  capacity?: number;
  /** ferretdb mode: changed documents held in memory before the rewrite goes slot by slot (apply-changes.ts) */
  maxHeldChanges?: number;
}

/** The parse's newest assessment date as a date; null when absent or not a date. */
export function dataAsOfOf(run: Pick<RunDoc, 'parse'>): Date | null {
  const v = run.parse?.summary?.dataAsOf;
  if (typeof v !== 'string') return null;
  const at = new Date(v);
  return Number.isNaN(at.getTime()) ? null : at;
}

export async function finalizeRun(store: Store, runId: string, opts: FinalizeOptions = {}): Promise<RunDoc> {
  const now = opts.now ?? new Date();
  const clock = Date.now();
  let run = await getRun(store, runId);
  if (isTerminal(run.state)) return run;
  const moved = await advanceRun(store, runId, ['parsing', 'writing', 'finalizing'], 'finalizing', { stage: 'finalize', now });
  if (!moved) return getRun(store, runId);
  run = moved;
  const connector = await store.col.connectors.findOne({ _id: run.connectorId });
  const stats = await batchStats(store, runId);
  const completeness = await runCompleteness(run, stats);
  const complete = isComplete(completeness);
  // a rewrite journal a killed finalize left is applied first (ferretdb mode)
  await replayRewrites(store, runId);
  // ferretdb mode: the host x policy assessments the batches met, stamped with the run (URBA's scope) at once
  if (store.mode === 'ferretdb') await stampAssessments(store, runId, run.network, now);
  const urbaOpts: UrbaOptions = {
    autoUrba: connector?.autoUrba ?? false,
    dryRun: connector?.urbaDryRun ?? false,
    threshold: connector?.urbaThreshold ?? opts.threshold ?? DEFAULT_URBA_THRESHOLD,
    completeness,
    now,
  };
  // status changes parked on the findings by an earlier version (a run in progress across an upgrade); skipped
  // when the batches parked nothing (each of its updates reads the whole collection on FerretDB)
  const parked = async () => {
    if (complete) {
      if (stats.parked !== 0) await applyPendingChanges(store, run, now);
    } else if (stats.parked !== 0) await dropPendingChanges(store, runId);
  };
  // staged changes (content always, status changes only if the run is complete), parked ones, then URBA
  let applied: { docsWritten: number };
  let urba: RunUrba;
  let urbaWritten: number;
  if (store.mode === 'mongodb') {
    applied = await applyStagedChanges(store, runId, { complete, now });
    await parked();
    ({ urba, docsWritten: urbaWritten } = await applyUrba(store, run, urbaOpts));
  } else {
    // the ferretdb mode rewrites the staged changes and the URBA closes together, from one read (apply-changes.ts)
    await parked();
    ({ urba, urbaWritten, ...applied } = await applyBySlot(store, run, { complete, now, urba: urbaOpts, maxHeld: opts.maxHeldChanges }));
  }
  const { stats: _s, ...counts } = await deriveCounts(store, run, { urbaClosed: urba.closed });
  const state: RunState = complete ? 'succeeded' : stats.done > 0 ? 'partial' : 'failed';
  const set: Record<string, unknown> = { urba, review: urba.decision === 'threshold', dataAsOf: dataAsOfOf(run) };
  for (const [k, v] of Object.entries(counts)) set[`counts.${k}`] = v;
  set['counts.docsWritten'] = stats.docsWritten + applied.docsWritten + urbaWritten;
  set['progress.batchesWritten'] = stats.done;
  // the embedded database beyond what it was measured to sync in time: said on the run (API, log)
  set.capacity = capacityWarning(store.mode, run.parse?.summary?.findings ?? 0, opts.capacity);
  if (!complete && !run.error) {
    set.error = {
      class: 'RUN_INCOMPLETE',
      message: !completeness.readToEnd
        ? 'the report was not read to its end'
        : !completeness.allBatchesWritten
          ? `${stats.failed} of ${run.parse?.batches ?? '?'} batches failed`
          : `counts do not add up: parsed ${completeness.findingsParsed}, written ${completeness.findingsWritten}, rejected ${completeness.rejected}`,
      stage: 'finalize',
      at: now,
    };
  }
  // the stage ends after the time it took (`now` is its start: ending it at `now` recorded 0 ms)
  const ended = new Date(now.getTime() + (Date.now() - clock));
  if (complete && run.reportId) {
    await store.col.reports.updateOne(
      { connectorId: run.connectorId, reportId: run.reportId },
      {
        $set: {
          title: run.reportTitle ?? '',
          launchedAt: run.reportLaunchedAt,
          runId,
          // a revived run may end after retention removed its file: the record says so
          fileId: run.file && !run.file.purgedAt ? run.file.id : null,
          length: run.file?.length ?? 0,
          sha256: run.file?.sha256 ?? '',
          ingestedAt: now,
          filePurgedAt: run.file?.purgedAt ?? null,
        },
        $setOnInsert: { _id: `${run.connectorId}:${run.reportId}`, connectorId: run.connectorId, reportId: run.reportId },
      },
      { upsert: true },
    );
  }
  const done = await completeStage(store, runId, 'finalize', { to: state, set, now: ended });
  // a complete run keeps the seen keys of its batches (the records are gone once written) until the next
  // complete run of its connector: the URBA preview weighs the last complete report with them
  if (complete) await keepSeenOfLastCompleteRun(store, run.connectorId, runId);
  forgetSnapshot(runId);
  forgetIdentities(runId);
  forgetKnownScopes(runId);
  return done ?? getRun(store, runId);
}
