/**
 * The run lifecycle: the one module that writes `runs` (lint refuses a write of runs anywhere else).
 *
 * The state only moves forward, by compare-and-set: every update names the states it may come from, so a
 * job run twice (or late) cannot move a run backwards. Each stage's job reads as
 *   claimStage -> its work -> completeStage (or failRun) -> enqueue of the next job;
 * a claim that finds the stage done already answers `handed-off`, and the job makes sure the next job
 * exists (job ids are deterministic: enqueueing twice is one job). So a crash between the state change
 * and the enqueue is repaired by the job's retry, and the stuck-run watchdog (stuck-runs.ts) fails a run
 * whose jobs are gone.
 *
 * A failed or partial run may be revived by a retried job (Bull Board retry), which counts it in
 * `resumes`; reviveRun keeps the rules of a sync (one per connector, oldest report first).
 */
import { ONE_BATCH } from '../db/one-batch.ts';
import type { Store } from '../db/store.ts';
import { TERMINAL_RUN_STATES, type PosturePage, type RunCounts, type RunPosture, type RunDoc, type RunError, type RunState, type RunTrigger, type RunWaiting, type StageTiming } from '../db/documents.ts';
import { StoreError } from '../db/errors.ts';
import { acquireSyncLock, setLockRuns } from './sync-lock.ts';

export type Stage = keyof RunDoc['timings'];

const emptyTiming = (): StageTiming => ({ startedAt: null, endedAt: null, ms: null });

export function emptyCounts(): RunCounts {
  return {
    bytes: 0,
    hostsParsed: 0,
    findingsParsed: 0,
    hostsCreated: 0,
    hostsUpdated: 0,
    findingsCreated: 0,
    findingsUpdated: 0,
    findingsClosed: 0,
    findingsReopened: 0,
    urbaClosed: 0,
    recordsRejected: 0,
    batches: 0,
    batchesWritten: 0,
    batchesFailed: 0,
  };
}

export interface NewRun {
  _id: string;
  connectorId: string;
  syncId: string;
  trigger: RunTrigger;
  network: string;
  index: number;
  report: { id: string; title: string; launchedAt: Date | null } | null;
  skipped?: RunDoc['skipped'];
  state: 'queued' | 'no-new-report';
  /** a posture pull (no report) */
  posture?: RunPosture;
}

/** Insert a run unless it exists (same _id): idempotent for a retried planning job. */
export async function createRun(store: Store, r: NewRun, now = new Date()): Promise<RunDoc> {
  const existing = await store.col.runs.findOne({ _id: r._id });
  if (existing) return existing;
  const reportId = r.report?.id ?? null;
  const attempt = 1 + (await store.col.runs.countDocuments({ connectorId: r.connectorId, reportId }));
  const doc: RunDoc = {
    _id: r._id,
    connectorId: r.connectorId,
    syncId: r.syncId,
    trigger: r.trigger,
    reportId,
    reportTitle: r.report?.title ?? null,
    reportLaunchedAt: r.report?.launchedAt ?? null,
    attempt,
    network: r.network,
    state: r.state,
    index: r.index,
    skipped: r.skipped ?? [],
    createdAt: now,
    updatedAt: now,
    endedAt: r.state === 'no-new-report' ? now : null,
    timings: { fetch: emptyTiming(), parse: emptyTiming(), write: emptyTiming(), finalize: emptyTiming() },
    counts: emptyCounts(),
    rejected: [],
    qualys: { calls: 0, conflicts409: 0, waitedSec: 0 },
    progress: { bytesDownloaded: 0, bytesParsed: 0, batchesWritten: 0 },
    parse: null,
    file: null,
    urba: null,
    review: false,
    resumes: 0,
    error: null,
    ...(r.posture ? { posture: r.posture } : {}),
  };
  try {
    await store.col.runs.insertOne(doc);
    return doc;
  } catch (err) {
    const again = await store.col.runs.findOne({ _id: r._id });
    if (again) return again;
    throw err;
  }
}

export async function getRun(store: Store, runId: string): Promise<RunDoc> {
  const run = await store.col.runs.findOne({ _id: runId });
  if (!run) throw new StoreError('RUN_NOT_FOUND', `run ${runId} not found`, false);
  return run;
}

export function isTerminal(state: RunState): boolean {
  return TERMINAL_RUN_STATES.includes(state);
}

/**
 * Move a run to `to` if it is in one of `from` (or already in `to`: idempotent). Starting a stage
 * stamps its start time once. Returns the run after the move, or null when the run was elsewhere.
 */
export async function advanceRun(
  store: Store,
  runId: string,
  from: RunState[],
  to: RunState,
  opts: { stage?: Stage; set?: Record<string, unknown>; now?: Date } = {},
): Promise<RunDoc | null> {
  const now = opts.now ?? new Date();
  const set: Record<string, unknown> = { state: to, updatedAt: now, ...opts.set };
  if (isTerminal(to)) set.endedAt = now;
  else set.endedAt = null;
  const moved = await store.col.runs.findOneAndUpdate(
    { _id: runId, state: { $in: from.filter((s) => s !== to) } },
    { $set: set },
    { returnDocument: 'after' },
  );
  if (moved) {
    if (opts.stage) await startStage(store, runId, opts.stage, now);
    return moved;
  }
  const run = await store.col.runs.findOne({ _id: runId });
  if (run?.state === to) {
    if (opts.set) await store.col.runs.updateOne({ _id: runId, state: to }, { $set: { ...opts.set, updatedAt: now } });
    return store.col.runs.findOne({ _id: runId });
  }
  return null;
}

export async function startStage(store: Store, runId: string, stage: Stage, now = new Date()): Promise<void> {
  await store.col.runs.updateOne(
    { _id: runId, [`timings.${stage}.startedAt`]: null },
    { $set: { [`timings.${stage}.startedAt`]: now } },
  );
}

export async function endStage(store: Store, runId: string, stage: Stage, now = new Date()): Promise<void> {
  const run = await store.col.runs.findOne({ _id: runId }, { projection: { timings: 1 } });
  const started = run?.timings[stage].startedAt ?? now;
  await store.col.runs.updateOne(
    { _id: runId },
    { $set: { [`timings.${stage}.endedAt`]: now, [`timings.${stage}.ms`]: now.getTime() - started.getTime() } },
  );
}

/** Record an error (class and message only: callers never pass secrets) and fail the run. */
export async function failRun(store: Store, runId: string, error: Omit<RunError, 'at'>, now = new Date()): Promise<RunDoc | null> {
  return store.col.runs.findOneAndUpdate(
    { _id: runId, state: { $nin: ['succeeded', 'no-new-report', 'failed', 'partial'] } },
    { $set: { state: 'failed', error: { ...error, message: error.message.slice(0, 2000), at: now }, endedAt: now, updatedAt: now } },
    { returnDocument: 'after' },
  );
}

/** Mark a run as looked at (its state unchanged), so that the watchdog gives its new jobs time. */
export async function touchRun(store: Store, runId: string, state: RunState, now = new Date()): Promise<void> {
  await store.col.runs.updateOne({ _id: runId, state }, { $set: { updatedAt: now } });
}

/** failRun, only if the run is still as it was seen (state and last update): a run that moved on is left alone. */
export async function failRunAsSeen(store: Store, seen: Pick<RunDoc, '_id' | 'state' | 'updatedAt'>, error: Omit<RunError, 'at'>, now = new Date()): Promise<RunDoc | null> {
  return store.col.runs.findOneAndUpdate(
    { _id: seen._id, state: seen.state, updatedAt: seen.updatedAt },
    { $set: { state: 'failed', error: { ...error, message: error.message.slice(0, 2000), at: now }, endedAt: now, updatedAt: now } },
    { returnDocument: 'after' },
  );
}

type ProgressCounters = Omit<RunDoc['progress'], 'waiting'>;

/**
 * Raise progress counters, never lower them ($max): a stage re-run after a crash counts from zero again,
 * and a run's bytesParsed went 12.5 -> 3.1 -> 13.3 MB across such a restart.
 */
export async function setProgress(store: Store, runId: string, p: Partial<ProgressCounters>): Promise<void> {
  const max: Record<string, number> = {};
  for (const [k, v] of Object.entries(p)) max[`progress.${k}`] = v;
  await store.col.runs.updateOne({ _id: runId }, { $max: max });
}

/** Where the run waits (shown in the run view), or null when it goes on. */
export async function setWaiting(store: Store, runId: string, waiting: RunWaiting | null): Promise<void> {
  await store.col.runs.updateOne({ _id: runId }, { $set: { 'progress.waiting': waiting } });
}

/** Qualys calls made and seconds waited add up over every attempt (they happened). */
export async function addQualysStats(store: Store, runId: string, s: { calls: number; conflicts409: number; waitedSec: number }): Promise<void> {
  await store.col.runs.updateOne(
    { _id: runId },
    { $inc: { 'qualys.calls': s.calls, 'qualys.conflicts409': s.conflicts409, 'qualys.waitedSec': s.waitedSec } },
  );
}

/** Runs of one sync, in ingest order. */
export async function runsOfSync(store: Store, syncId: string): Promise<RunDoc[]> {
  return store.col.runs.find({ syncId }, { batchSize: ONE_BATCH }).sort({ index: 1 }).toArray();
}

/**
 * Reviving a failed or partial run for a retried job (Bull Board: a failed fetch, parse, upsert or
 * finalize job retried by hand). A revived run writes and may close and reopen findings, so it must keep
 * the rules a sync keeps:
 * - one sync per connector at a time: the run's sync takes the connector's sync lock again (or still
 *   holds it) and no other run of that sync is in progress; otherwise SYNC_BUSY (retryable: the job's
 *   backoff tries again while the other sync runs);
 * - reports are ingested oldest first: a run whose connector has had a later run write since (a newer
 *   report, or the same one pulled again) is not revived, since its older statuses would undo the newer
 *   ones; RUN_SUPERSEDED (not retryable: sync the connector instead).
 *
 * Revive a failed or partial run to `to`: counts the resume, clears the error (and sets `set`). Null when
 * the run is not failed or partial (any more).
 */
export async function reviveRun(store: Store, runId: string, to: RunState, now = new Date(), set: Record<string, unknown> = {}): Promise<RunDoc | null> {
  const run = await store.col.runs.findOne({ _id: runId });
  if (!run || (run.state !== 'failed' && run.state !== 'partial')) return null;
  const later = await store.col.runs.findOne(
    {
      connectorId: run.connectorId,
      _id: { $ne: runId },
      state: { $in: ['succeeded', 'partial'] },
      $or: [{ createdAt: { $gt: run.createdAt } }, { syncId: run.syncId, index: { $gt: run.index } }],
    },
    { projection: { _id: 1, reportId: 1 } },
  );
  if (later) {
    throw new StoreError(
      'RUN_SUPERSEDED',
      `run ${runId} (report ${run.reportId}) is not retried: a later run of its connector (run ${later._id}, report ${later.reportId}) has written since, and this run would undo its statuses; sync the connector instead`,
      false,
    );
  }
  const lock = await acquireSyncLock(store, run.connectorId, run.syncId, now);
  const busy = lock.acquired
    ? await store.col.runs.findOne({ syncId: run.syncId, _id: { $ne: runId }, state: { $nin: [...TERMINAL_RUN_STATES, 'queued'] } }, { projection: { _id: 1 } })
    : null;
  if (!lock.acquired || busy) {
    throw new StoreError(
      'SYNC_BUSY',
      `run ${runId} is not retried yet: connector ${run.connectorId} is syncing (${lock.acquired ? `run ${busy?._id} of the same sync` : `sync ${lock.holder.syncId}`}); the job tries again with backoff, or retry it once that sync has ended`,
      true,
    );
  }
  const revived = await store.col.runs.findOneAndUpdate(
    { _id: runId, state: { $in: ['failed', 'partial'] } },
    { $set: { ...set, state: to, updatedAt: now, endedAt: null, error: null }, $inc: { resumes: 1 } },
    { returnDocument: 'after' },
  );
  // the lock names the run once it is in progress again (a lock naming only ended runs is stale; an empty
  // new one is not), also when another job revived it first
  const held = await store.col.syncLocks.findOne({ _id: run.connectorId, syncId: run.syncId });
  if (held && !held.runIds.includes(runId)) await setLockRuns(store, run.connectorId, run.syncId, [...held.runIds, runId]);
  return revived;
}

/** A stage of a run, as its job claims it. `write` is one staged batch's write (the run is shared by its batches). */
export type RunStage = 'fetch' | 'parse' | 'write' | 'finalize';

/**
 * What a stage's job may do with its run:
 * - `claimed`: the run is in this stage (moved into it, or revived to it): do the work. `revived`: the run
 *   was failed or partial and a retried job brought it back;
 * - `handed-off`: an earlier attempt did this stage's work and moved the run on: make sure the next
 *   stage's job exists (its id dedupes), do nothing else;
 * - `skipped`: the run is elsewhere (ended, or another job moved it): nothing to do.
 */
export type Claim =
  | { status: 'claimed'; run: RunDoc; revived: boolean }
  | { status: 'handed-off'; run: RunDoc }
  | { status: 'skipped'; run: RunDoc | null; reason: string };

/** The states a stage works in; a claimed run is in one of them. */
const WORKING: Record<RunStage, RunState[]> = {
  fetch: ['queued', 'fetching'],
  parse: ['parsing'],
  write: ['parsing', 'writing', 'finalizing'],
  finalize: ['parsing', 'writing', 'finalizing'],
};
/** The states that say the stage handed its run on. */
const HANDED_OFF: Record<RunStage, RunState[]> = { fetch: ['parsing'], parse: ['writing'], write: [], finalize: [] };
/** The state a retried job revives a failed or partial run to. */
const REVIVE_TO: Record<RunStage, RunState> = { fetch: 'fetching', parse: 'parsing', write: 'writing', finalize: 'writing' };

/**
 * Claim a run for one of its stages (compare-and-set on the run's state), reviving a failed or partial run
 * for a retried job by the stage's revive rule:
 * - fetch: a failed run is fetched again;
 * - parse: a failed or partial run is parsed again from its stored report (its parse result cleared),
 *   unless report retention removed the file: REPORT_FILE_PURGED, not retryable;
 * - write: a failed or partial run takes a retried batch (whichever job revived it first);
 * - finalize: a run failed by its finalize job (not an incomplete run's own end) is finalized again.
 * reviveRun's refusals (RUN_SUPERSEDED, SYNC_BUSY) are thrown. Starting a stage stamps its start once.
 */
export async function claimStage(store: Store, runId: string, stage: RunStage, now = new Date()): Promise<Claim> {
  let run = await getRun(store, runId);
  let revived = false;
  if (run.state === 'failed' || run.state === 'partial') {
    let to: RunDoc | null = null;
    if (stage === 'fetch' && run.state === 'failed') to = await reviveRun(store, runId, REVIVE_TO.fetch, now);
    else if (stage === 'parse') {
      if (run.file?.purgedAt) {
        // the run ended and report retention (QPC_REPORT_RETENTION) removed its file: nothing to re-read
        throw new StoreError(
          'REPORT_FILE_PURGED',
          `run ${runId}: its report file was removed by report retention after the run ended; download it again (retry the run's fetch job, or sync with re-ingest)`,
          false,
        );
      }
      to = await reviveRun(store, runId, REVIVE_TO.parse, now, { parse: null });
      if (!to) return { status: 'skipped', run: await getRun(store, runId), reason: 'run moved on' };
    } else if (stage === 'write') to = (await reviveRun(store, runId, REVIVE_TO.write, now)) ?? (await getRun(store, runId));
    else if (stage === 'finalize' && run.state === 'failed' && run.error?.stage === 'finalize' && run.error.class !== 'RUN_INCOMPLETE') {
      to = await reviveRun(store, runId, REVIVE_TO.finalize, now);
    }
    if (stage === 'fetch' && run.state === 'failed' && !to) return { status: 'skipped', run: await getRun(store, runId), reason: 'run moved on' };
    if (to) {
      run = to;
      revived = !isTerminal(run.state);
    }
  }
  if (HANDED_OFF[stage].includes(run.state)) return { status: 'handed-off', run };
  if (stage === 'finalize' && isTerminal(run.state)) return { status: 'handed-off', run };
  if (!WORKING[stage].includes(run.state)) return { status: 'skipped', run, reason: `run is ${run.state}` };
  if (stage === 'fetch') {
    const moved = await advanceRun(store, runId, WORKING.fetch, 'fetching', { stage: 'fetch', now });
    if (!moved) return { status: 'skipped', run: await getRun(store, runId), reason: 'run moved on' };
    return { status: 'claimed', run: moved, revived };
  }
  if (stage === 'parse') {
    await startStage(store, runId, 'parse', now);
    // the batches are written while the report is read
    await startStage(store, runId, 'write', now);
    // a crashed attempt may have left its wait shown
    if (run.progress?.waiting) await setWaiting(store, runId, null);
  }
  if (stage === 'finalize') await endStage(store, runId, 'write', now);
  return { status: 'claimed', run, revived };
}

/** Where each stage hands its run on: the state it comes from and the state it goes to. */
const HAND_ON: Record<Exclude<RunStage, 'write'>, { from: RunState[]; to?: RunState; next?: Stage }> = {
  fetch: { from: ['fetching'], to: 'parsing', next: 'parse' },
  parse: { from: ['parsing'], to: 'writing' },
  finalize: { from: ['finalizing'] },
};

/**
 * A stage's work is done: stamp its end and move the run on (compare-and-set), setting `set` with the
 * move. Finalize names the run's end state (`to`). Returns the run after the move, or null when it had
 * moved elsewhere. The caller enqueues the next job after this (a crash in between: the job's retry
 * claims `handed-off` and enqueues it).
 */
export async function completeStage(
  store: Store,
  runId: string,
  stage: Exclude<RunStage, 'write'>,
  opts: { to?: RunState; set?: Record<string, unknown>; now?: Date } = {},
): Promise<RunDoc | null> {
  const now = opts.now ?? new Date();
  const hand = HAND_ON[stage];
  const to = opts.to ?? hand.to;
  if (!to) throw new Error(`completeStage: the ${stage} stage names the state it ends in`);
  await endStage(store, runId, stage, now);
  return advanceRun(store, runId, hand.from, to, { stage: hand.next, set: opts.set, now });
}

/** The report file a fetch stored (and its length in the run's counts and progress). */
export async function recordReportFile(store: Store, runId: string, file: NonNullable<RunDoc['file']>): Promise<void> {
  await store.col.runs.updateOne({ _id: runId }, { $set: { file, 'counts.bytes': file.length, 'progress.bytesDownloaded': file.length } });
}

/** Report retention removed an ended run's file: recorded on the run. False when the run is in progress again (revived meanwhile). */
export async function markReportFilePurged(store: Store, runId: string, fileId: string, now = new Date()): Promise<boolean> {
  const r = await store.col.runs.updateOne({ _id: runId, state: { $in: [...TERMINAL_RUN_STATES] }, 'file.id': fileId }, { $set: { 'file.purgedAt': now } });
  return r.matchedCount > 0;
}

/**
 * A parse job that failed for good: the run goes on to writing with an incomplete parse (its staged
 * batches counted) and the error, so it finalizes once they are written and closes nothing. Idempotent:
 * only a run still parsing is moved; a run moved so already is counted again. Null when the run is
 * elsewhere (the parse had ended).
 */
export async function failParse(store: Store, runId: string, error: Omit<RunError, 'at' | 'stage'>, now = new Date()): Promise<RunDoc | null> {
  const moved = await store.col.runs.findOneAndUpdate(
    { _id: runId, state: 'parsing' },
    {
      $set: {
        state: 'writing',
        updatedAt: now,
        endedAt: null,
        parse: { complete: false, batches: 0, summary: null },
        error: { class: error.class, message: error.message.slice(0, 2000), stage: 'parse', at: now },
      },
    },
    { returnDocument: 'after' },
  );
  const run = moved ?? (await store.col.runs.findOne({ _id: runId, state: 'writing', 'parse.complete': false, 'error.stage': 'parse' }));
  if (!run) return null;
  // batches staged before the failure are counted as staged; finalize sees an incomplete parse
  const staged = await store.col.batches.countDocuments({ runId });
  return store.col.runs.findOneAndUpdate({ _id: runId, state: 'writing' }, { $set: { 'parse.batches': staged } }, { returnDocument: 'after' });
}

/** Remove every run of a connector (the connector is deleted); returns how many. */
export async function deleteRunsOfConnector(store: Store, connectorId: string): Promise<number> {
  return (await store.col.runs.deleteMany({ connectorId })).deletedCount;
}

/**
 * A posture download's progress: the page just stored and where the next one starts (null: every page
 * stored). Compare-and-set on the page count, so a page stored twice (a retried job) is recorded once.
 */
export async function addPosturePage(store: Store, runId: string, page: PosturePage, next: RunPosture['next'], bytes: number): Promise<void> {
  const run = await store.col.runs.findOne({ _id: runId }, { projection: { posture: 1 } });
  const pages = run?.posture?.pages ?? [];
  if (pages.some((p) => p.id === page.id)) return;
  await store.col.runs.updateOne(
    { _id: runId, 'posture.pages': { $size: pages.length } },
    { $set: { 'posture.pages': [...pages, page], 'posture.next': next, 'counts.bytes': bytes, 'progress.bytesDownloaded': bytes, updatedAt: new Date() } },
  );
}

/** A posture download that stopped for good before its last page: what was stored is ingested, nothing is closed. */
export async function markPostureIncomplete(store: Store, runId: string, error: Omit<RunError, 'at'>, now = new Date()): Promise<void> {
  await store.col.runs.updateOne(
    { _id: runId },
    { $set: { 'posture.complete': false, error: { ...error, message: error.message.slice(0, 2000), at: now }, updatedAt: now } },
  );
}

/** The succeeded posture pulls of a connector, newest first (kind, policies, start): planPull's history. */
export async function succeededPosturePulls(store: Store, connectorId: string, limit = 1000): Promise<{ createdAt: Date; kind: string; policyIds: string[] }[]> {
  const runs = await store.col.runs
    .find({ connectorId, state: 'succeeded', posture: { $ne: null } }, { batchSize: ONE_BATCH, projection: { createdAt: 1, 'posture.kind': 1, 'posture.policyIds': 1 } })
    .sort({ createdAt: -1 })
    .limit(limit)
    .toArray();
  return runs.flatMap((r) => (r.posture ? [{ createdAt: r.createdAt, kind: r.posture.kind, policyIds: r.posture.policyIds }] : []));
}
