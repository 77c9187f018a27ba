import { Worker, UnrecoverableError, type Job, type MinimalJob, type WorkerOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import { JOBS, RETRY_BACKOFF, closeBullmq, isJobName, parsePayload, retryDelay, workerDefaults, type JobData, type JobsOfQueue, type QueueName } from '@qpc/jobs';
import type { Logger } from './logger.ts';

/** What a handler returns: the job did its work, or had nothing to do. Failures are thrown. */
export type Outcome = { outcome: 'done' | 'skipped'; [key: string]: unknown };

export interface HandlerContext {
  job: Job;
  logger: Logger;
  /** report progress so Bull Board and run records show it */
  progress: (p: Record<string, number | string>) => Promise<void>;
}

export type Handler<N extends keyof typeof JOBS> = (data: JobData<N>, ctx: HandlerContext) => Promise<Outcome>;

export type HandlerMap<Q extends QueueName> = { [N in JobsOfQueue<Q>]: Handler<N> };

export interface FinalFailureContext {
  job: Job;
  logger: Logger;
  /** processor: the handler threw on its last attempt; event: the job was failed without it (stalled out) */
  via: 'processor' | 'event';
}

/**
 * What a job that failed for good leaves behind (a failed batch, a failed run, the sync going on). It must
 * be idempotent: it may run twice for one failure (its first call failed, or two workers saw it).
 */
export type FinalFailureHandler<N extends keyof typeof JOBS> = (data: JobData<N>, err: Error, ctx: FinalFailureContext) => Promise<void>;

export type FinalFailureMap<Q extends QueueName> = { [N in JobsOfQueue<Q>]?: FinalFailureHandler<N> };

/** BullMQ's reason for a job that stalled more than maxStalledCount times (its worker died or hung). */
export const STALLED_REASON = 'job stalled more than allowable limit';

export class JobStalledError extends Error {
  readonly code = 'JOB_STALLED';
  constructor(queue: string, maxStalledCount: number) {
    super(
      `${STALLED_REASON}: the ${queue} job was left unfinished ${maxStalledCount + 1} time(s) by its worker ` +
        '(process killed, or its event loop blocked past the job lock); it was not run again',
    );
    this.name = 'JobStalledError';
  }
}

function isUnrecoverable(err: unknown): boolean {
  return err instanceof UnrecoverableError || (err as Error | undefined)?.name === 'UnrecoverableError';
}

/** Errors of the language itself: a bug in the code, which the same input hits again on every attempt. */
const PROGRAMMING_ERRORS = new Set(['TypeError', 'ReferenceError', 'SyntaxError']);

/**
 * A programming error (a TypeError, ReferenceError or SyntaxError thrown by the code itself) fails the
 * same way on every attempt: retrying it for ten minutes only delays the run's end. One with a `cause`
 * is a wrapper, not a bug: undici's fetch reports a refused or cut connection as `TypeError: fetch
 * failed` / `terminated` with the socket error as its cause, and that stays retryable. An error marked
 * `retryable: true` is retried whatever its class.
 */
export function isProgrammingError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if ((err as { retryable?: unknown }).retryable === true || err.cause !== undefined) return false;
  return PROGRAMMING_ERRORS.has(err.name);
}

/**
 * An error that says retrying cannot help fails its job for good at once, as an UnrecoverableError whose
 * message names the code (or the error class) and whose cause is the original: one marked
 * `retryable: false` (as the Qualys client's and the store's errors are: bad credentials, a report file
 * removed by retention ...), and a programming error (isProgrammingError). Every other error (a database
 * or Redis restarting, a busy database, a network blip) keeps the job's whole retry budget.
 */
export function unrecoverable(err: unknown): unknown {
  const e = err as (Error & { code?: unknown; retryable?: unknown }) | undefined;
  if (isUnrecoverable(err)) return err;
  if (isProgrammingError(err)) return Object.assign(new UnrecoverableError(`${e!.name}: ${e!.message}`), { cause: err });
  if (e?.retryable !== false) return err;
  const code = typeof e.code === 'string' && !e.message.startsWith(e.code) ? `${e.code}: ` : '';
  return Object.assign(new UnrecoverableError(`${code}${e.message}`), { cause: err });
}

/**
 * A job retried by hand (the job board, the API) after it used up its attempts comes back with its
 * attempt counter as it was, so its first transient error would fail it for good again. It gets a fresh
 * budget: the attempts made before the retry are kept in its data (`retryBase`, which the catalogue's
 * schemas drop before a handler sees the payload) and its attempts are counted from there.
 */
export async function applyRetryBudget(job: Job): Promise<void> {
  const attempts = job.opts.attempts ?? 1;
  const data = (job.data ?? {}) as Record<string, unknown>;
  let base = typeof data.retryBase === 'number' ? data.retryBase : 0;
  if (job.attemptsMade - base >= attempts) {
    base = job.attemptsMade;
    await job.updateData({ ...data, retryBase: base });
  }
  if (base > 0) job.opts = { ...job.opts, attempts: base + attempts };
}

/** Backoff of the catalogue's RETRY_BACKOFF type, from the job's own delay. */
export function backoffStrategy(attempt: number, type?: string, _err?: Error, job?: MinimalJob): number {
  if (type !== RETRY_BACKOFF) throw new Error(`unknown backoff type ${String(type)}`);
  return retryDelay(attempt, job?.opts.backoff && typeof job.opts.backoff === 'object' ? (job.opts.backoff.delay ?? 2_000) : 2_000);
}

/** The handler's attempt that just threw was the job's last one. */
export function isFinalAttempt(job: Job, err: unknown): boolean {
  return isUnrecoverable(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/** The error a handler converted (e.g. to UnrecoverableError) keeps the original as its cause. */
export function rootCause(err: unknown): Error {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause instanceof Error ? cause : (err as Error);
}

/** Worker stall settings: the catalogue's defaults, overridden by configuration (QPC_LOCK_DURATION_MS ...). */
export function workerSettings(c: { QPC_LOCK_DURATION_MS?: number; QPC_STALLED_INTERVAL_MS?: number; QPC_MAX_STALLED_COUNT?: number }): Partial<WorkerOptions> {
  return {
    lockDuration: c.QPC_LOCK_DURATION_MS ?? workerDefaults.lockDuration,
    stalledInterval: c.QPC_STALLED_INTERVAL_MS ?? workerDefaults.stalledInterval,
    maxStalledCount: c.QPC_MAX_STALLED_COUNT ?? workerDefaults.maxStalledCount,
  };
}

export interface RunWorkerOptions<Q extends QueueName> {
  queue: Q;
  handlers: HandlerMap<Q>;
  /** connection options (see connectionOptions()): the worker owns and closes its connections */
  connection: RedisOptions;
  prefix: string;
  logger: Logger;
  concurrency?: number;
  worker?: Partial<WorkerOptions>;
  /**
   * Per job name: what a final failure leaves behind. Called when the handler throws on its last attempt
   * (before the job is moved to failed), and from the worker's 'failed' event for a job failed for good
   * without the handler having handled it: a job that stalled more than maxStalledCount times is failed
   * by the next worker that takes it, without running the processor. Errors are logged, never thrown.
   */
  onFinalFailure?: FinalFailureMap<Q>;
}

/**
 * A BullMQ worker whose jobs are checked against the catalogue: unknown job names and bad payloads are
 * UnrecoverableErrors (not retried), and so are handler errors marked `retryable: false` (unrecoverable());
 * each job gets a child logger with its queue, id and attempt.
 * A job that fails for good, by its handler or by stalling out, gets its onFinalFailure handler once
 * (at least once): see RunWorkerOptions.onFinalFailure. close() waits for those still running.
 */
export function runWorker<Q extends QueueName>(opts: RunWorkerOptions<Q>): Worker {
  const handlers = opts.handlers as Record<string, Handler<keyof typeof JOBS>>;
  for (const name of Object.keys(handlers)) {
    if (!isJobName(name) || JOBS[name].queue !== opts.queue) {
      throw new Error(`handler "${name}" does not belong to queue "${opts.queue}"`);
    }
  }
  const onFinal = (opts.onFinalFailure ?? {}) as Record<string, FinalFailureHandler<keyof typeof JOBS> | undefined>;
  /** jobs whose final failure was handled in the processor: the 'failed' event that follows skips them */
  const handled = new WeakSet<Job>();
  const pending = new Set<Promise<void>>();
  /** Run the job's final-failure handler; true when it succeeded. Never throws. */
  const finalFailure = async (job: Job, data: unknown, err: Error, via: FinalFailureContext['via']): Promise<boolean> => {
    const fn = isJobName(job.name) ? onFinal[job.name] : undefined;
    if (!fn) return true;
    const logger = opts.logger.child({ queue: opts.queue, jobId: job.id, job: job.name });
    try {
      await fn(data as never, err, { job, logger, via });
      logger.warn({ via, err: { name: err.name, message: err.message } }, 'job failed for good: failure recorded');
      return true;
    } catch (e) {
      logger.error({ via, err: { name: (e as Error)?.name, message: (e as Error)?.message } }, 'recording a final job failure failed');
      return false;
    }
  };
  const worker = new Worker(
    opts.queue,
    async (job: Job) => {
      const logger = opts.logger.child({ queue: opts.queue, jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
      const handler = isJobName(job.name) ? handlers[job.name] : undefined;
      if (!handler) throw new UnrecoverableError(`no handler for job "${job.name}" on queue "${opts.queue}"`);
      await applyRetryBudget(job);
      const data = parsePayload(job.name as keyof typeof JOBS, job.data);
      const started = Date.now();
      let result: Outcome;
      try {
        result = await handler(data as never, {
          job,
          logger,
          progress: (p) => job.updateProgress(p),
        });
      } catch (caught) {
        const err = unrecoverable(caught);
        if (isFinalAttempt(job, err) && (await finalFailure(job, data, err as Error, 'processor'))) handled.add(job);
        throw err;
      }
      const level = result.outcome === 'skipped' ? 'debug' : 'info';
      logger[level]({ outcome: result.outcome, ms: Date.now() - started }, 'job finished');
      return result;
    },
    {
      connection: opts.connection,
      prefix: opts.prefix,
      concurrency: opts.concurrency ?? 1,
      autorun: true,
      ...opts.worker,
      settings: { backoffStrategy, ...opts.worker?.settings },
    },
  );
  worker.on('failed', (job, err) => {
    opts.logger.warn(
      { queue: opts.queue, jobId: job?.id, job: job?.name, attempt: job?.attemptsMade, err: { message: err.message, name: err.name } },
      'job failed',
    );
    // moveToFailed has counted the attempt: attemptsMade is the number of attempts made, this one included
    if (!job || handled.has(job) || !(isUnrecoverable(err) || job.attemptsMade >= (job.opts.attempts ?? 1))) return;
    if (!isJobName(job.name) || JOBS[job.name].queue !== opts.queue) return;
    const parsed = JOBS[job.name].schema.safeParse(job.data);
    if (!parsed.success) return; // a bad payload names nothing to record the failure on
    const reason = err.message === STALLED_REASON ? new JobStalledError(opts.queue, worker.opts.maxStalledCount ?? 1) : err;
    const p = finalFailure(job, parsed.data, reason, 'event').then(() => undefined);
    pending.add(p);
    void p.finally(() => pending.delete(p));
  });
  const close = worker.close.bind(worker);
  worker.close = async (force?: boolean) => {
    await closeBullmq(worker, () => close(force));
    await Promise.allSettled([...pending]);
  };
  let redisDown = false;
  worker.on('ioredis:close', () => {
    if (!redisDown) opts.logger.warn({ queue: opts.queue }, 'redis connection lost; reconnecting');
    redisDown = true;
  });
  worker.on('ready', () => {
    if (redisDown) opts.logger.info({ queue: opts.queue }, 'redis connection restored');
    redisDown = false;
  });
  worker.on('error', (err) => {
    opts.logger.error({ queue: opts.queue, err: { message: err.message, name: err.name } }, 'worker error');
  });
  return worker;
}
