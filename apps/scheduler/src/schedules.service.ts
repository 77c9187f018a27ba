/**
 * Keep one BullMQ job scheduler per enabled connector schedule, in step with MongoDB. Reconciled by
 * polling (FerretDB has no change streams): every tick lists the schedules and the job schedulers and
 * creates, changes or removes the difference, so an edit takes effect within one tick (1 s here).
 *
 * Each connector is reconciled on its own: a schedule the cron parser refuses, or a job scheduler Redis
 * refuses to write, leaves that connector unscheduled and is logged once per change of its schedule;
 * the other connectors are scheduled and stale job schedulers removed all the same.
 *
 * Any number of scheduler processes may run: upsertJobScheduler is idempotent by scheduler id, and
 * BullMQ gives the job of each slot an id made of the scheduler id and the slot time, so two processes
 * cannot produce two jobs (hence two syncs) for one slot.
 */
import type { Queue } from 'bullmq';
import { scheduleToCron } from '@qpc/domain';
import { jobOptions, schedulerId } from '@qpc/jobs';
import type { Store } from '@qpc/store/db';
import type { Logger } from '@qpc/worker-kit';
import { ONE_BATCH } from '@qpc/store/db';

const PREFIX = schedulerId('');

export interface ReconcileResult {
  upserted: string[];
  removed: string[];
  /** connectors whose schedule the cron parser refuses */
  invalid: string[];
  /** job scheduler ids Redis refused to write or remove this tick */
  failed: string[];
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The reconcile function of one scheduler process. It remembers which failures it has logged (by
 * connector or job scheduler, with the schedule that failed) so a failure that repeats every tick is
 * logged once, and again only when the schedule changes or after it has succeeded.
 */
export function scheduleReconciler(store: Store, syncQueue: Queue, logger: Logger): () => Promise<ReconcileResult> {
  const reported = new Map<string, string>();
  const reportOnce = (id: string, what: string, fields: Record<string, unknown>, msg: string) => {
    if (reported.get(id) === what) return;
    reported.set(id, what);
    logger.warn(fields, msg);
  };

  return async () => {
    const desired = new Map<string, { connectorId: string; pattern: string; tz: string; what: string }>();
    const invalid: string[] = [];
    const failed: string[] = [];
    const connectors = await store.col.connectors.find({ 'schedule.enabled': true }, { batchSize: ONE_BATCH, projection: { _id: 1, schedule: 1 } }).toArray();
    for (const c of connectors) {
      if (!c.schedule) continue;
      const id = schedulerId(c._id);
      const what = JSON.stringify(c.schedule);
      try {
        desired.set(id, { connectorId: c._id, pattern: scheduleToCron(c.schedule), tz: c.schedule.timezone, what });
      } catch (err) {
        invalid.push(c._id);
        reportOnce(id, what, { connectorId: c._id, err: { message: message(err) } }, 'invalid schedule: connector not scheduled until its schedule changes');
      }
    }
    const existing = (await syncQueue.getJobSchedulers(0, -1)).filter((s) => s.key.startsWith(PREFIX));
    const have = new Map(existing.map((s) => [s.key, s]));
    const upserted: string[] = [];
    const removed: string[] = [];
    for (const [id, d] of desired) {
      const cur = have.get(id);
      if (cur && cur.pattern === d.pattern && (cur.tz ?? 'UTC') === d.tz) {
        reported.delete(id);
        continue;
      }
      try {
        await syncQueue.upsertJobScheduler(
          id,
          { pattern: d.pattern, tz: d.tz },
          { name: 'sync', data: { connectorId: d.connectorId, trigger: 'schedule', reingest: false }, opts: { ...jobOptions.sync } },
        );
        upserted.push(id);
        reported.delete(id);
      } catch (err) {
        failed.push(id);
        reportOnce(id, d.what, { connectorId: d.connectorId, err: { message: message(err) } }, 'schedule not written; retrying every tick, logged again when the schedule changes');
      }
    }
    for (const id of have.keys()) {
      if (desired.has(id)) continue;
      try {
        await syncQueue.removeJobScheduler(id);
        removed.push(id);
        reported.delete(id);
      } catch (err) {
        failed.push(id);
        reportOnce(id, 'remove', { schedulerId: id, err: { message: message(err) } }, 'schedule not removed; retrying every tick');
      }
    }
    // forget connectors that are gone or no longer scheduled, so the map stays as small as the schedules
    const current = new Set([...desired.keys(), ...have.keys(), ...invalid.map(schedulerId)]);
    for (const id of reported.keys()) if (!current.has(id)) reported.delete(id);
    if (upserted.length || removed.length) logger.info({ upserted, removed }, 'schedules reconciled');
    return { upserted, removed, invalid, failed };
  };
}

/**
 * Reconcile every intervalMs (never two at once); returns a stop function that waits for the tick in
 * progress. A failing tick (Redis or MongoDB unreachable) is logged when its message changes, not every tick.
 */
export function startReconciler(run: () => Promise<unknown>, intervalMs: number, logger: Logger): () => Promise<void> {
  let stopped = false;
  let current: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let lastError: string | undefined;
  const tick = () => {
    current = run()
      .then(() => {
        if (lastError !== undefined) logger.info('schedule reconcile recovered');
        lastError = undefined;
      })
      .catch((err: unknown) => {
        if (message(err) !== lastError) logger.warn({ err: { message: message(err) } }, 'schedule reconcile failed; retrying every tick');
        lastError = message(err);
      })
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
