/**
 * Run records. The state only moves forward, by compare-and-set: every update names the states it
 * may come from, so a job run twice (or late) cannot move a run backwards. A failed or partial run
 * may be revived by a retried job (Bull Board retry), which counts it in `resumes`.
 */
import { ONE_BATCH } from './one-batch.ts';
import type { Store } from './store.ts';
import { TERMINAL_RUN_STATES, type PosturePage, type RunCounts, type RunPosture, type RunDoc, type RunError, type RunState, type RunTrigger, type RunWaiting, type StageTiming } from './documents.ts';
import { StoreError } from './errors.ts';

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
