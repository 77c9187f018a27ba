/**
 * Keep one BullMQ job scheduler per enabled connector schedule, in step with MongoDB. Reconciled by
 * polling (FerretDB has no change streams): every tick lists the schedules and the job schedulers and
 * creates, changes or removes the difference, so an edit takes effect within one tick (1 s here).
 *
 * Any number of scheduler processes may run: upsertJobScheduler is idempotent by scheduler id, and
 * BullMQ gives the job of each slot an id made of the scheduler id and the slot time, so two processes
 * cannot produce two jobs (hence two syncs) for one slot.
 */
import type { Queue } from 'bullmq';
import { scheduleToCron } from '@qpc/domain';
import { jobOptions, schedulerId } from '@qpc/jobs';
import type { Store } from '@qpc/store';
import type { Logger } from '@qpc/worker-kit';
import { ONE_BATCH } from '@qpc/store';

const PREFIX = schedulerId('');

export interface ReconcileResult {
  upserted: string[];
  removed: string[];
  invalid: string[];
}

export async function reconcileSchedules(store: Store, syncQueue: Queue, logger: Logger): Promise<ReconcileResult> {
  const desired = new Map<string, { connectorId: string; pattern: string; tz: string }>();
  const invalid: string[] = [];
  const connectors = await store.col.connectors.find({ 'schedule.enabled': true }, { batchSize: ONE_BATCH, projection: { _id: 1, schedule: 1 } }).toArray();
  for (const c of connectors) {
    if (!c.schedule) continue;
    try {
      desired.set(schedulerId(c._id), { connectorId: c._id, pattern: scheduleToCron(c.schedule), tz: c.schedule.timezone });
    } catch (err) {
      invalid.push(c._id);
      logger.warn({ connectorId: c._id, err: { message: (err as Error).message } }, 'invalid schedule ignored');
    }
  }
  const existing = (await syncQueue.getJobSchedulers(0, -1)).filter((s) => s.key.startsWith(PREFIX));
  const have = new Map(existing.map((s) => [s.key, s]));
  const upserted: string[] = [];
  const removed: string[] = [];
  for (const [id, d] of desired) {
    const cur = have.get(id);
    if (cur && cur.pattern === d.pattern && (cur.tz ?? 'UTC') === d.tz) continue;
    await syncQueue.upsertJobScheduler(
      id,
      { pattern: d.pattern, tz: d.tz },
      { name: 'sync', data: { connectorId: d.connectorId, trigger: 'schedule', reingest: false }, opts: { ...jobOptions.sync } },
    );
    upserted.push(id);
  }
  for (const id of have.keys()) {
    if (desired.has(id)) continue;
    await syncQueue.removeJobScheduler(id);
    removed.push(id);
  }
  if (upserted.length || removed.length) logger.info({ upserted, removed }, 'schedules reconciled');
  return { upserted, removed, invalid };
}

/** Reconcile every intervalMs (never two at once); returns a stop function that waits for the tick in progress. */
export function startReconciler(run: () => Promise<unknown>, intervalMs: number, logger: Logger): () => Promise<void> {
  let stopped = false;
  let current: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    current = run()
      .catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'schedule reconcile failed; retrying'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  tick();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await current;
  };
}
