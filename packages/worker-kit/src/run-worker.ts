import { Worker, UnrecoverableError, type Job, type WorkerOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import { JOBS, isJobName, parsePayload, type JobData, type JobsOfQueue, type QueueName } from '@qpc/jobs';
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

export interface RunWorkerOptions<Q extends QueueName> {
  queue: Q;
  handlers: HandlerMap<Q>;
  /** connection options (see connectionOptions()): the worker owns and closes its connections */
  connection: RedisOptions;
  prefix: string;
  logger: Logger;
  concurrency?: number;
  worker?: Partial<WorkerOptions>;
}

/**
 * A BullMQ worker whose jobs are checked against the catalogue: unknown job names and bad payloads are
 * UnrecoverableErrors (not retried); each job gets a child logger with its queue, id and attempt.
 */
export function runWorker<Q extends QueueName>(opts: RunWorkerOptions<Q>): Worker {
  const handlers = opts.handlers as Record<string, Handler<keyof typeof JOBS>>;
  for (const name of Object.keys(handlers)) {
    if (!isJobName(name) || JOBS[name].queue !== opts.queue) {
      throw new Error(`handler "${name}" does not belong to queue "${opts.queue}"`);
    }
  }
  const worker = new Worker(
    opts.queue,
    async (job: Job) => {
      const logger = opts.logger.child({ queue: opts.queue, jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
      const handler = isJobName(job.name) ? handlers[job.name] : undefined;
      if (!handler) throw new UnrecoverableError(`no handler for job "${job.name}" on queue "${opts.queue}"`);
      const data = parsePayload(job.name as keyof typeof JOBS, job.data);
      const started = Date.now();
      const result = await handler(data as never, {
        job,
        logger,
        progress: (p) => job.updateProgress(p),
      });
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
    },
  );
  worker.on('failed', (job, err) => {
    opts.logger.warn(
      { queue: opts.queue, jobId: job?.id, job: job?.name, attempt: job?.attemptsMade, err: { message: err.message, name: err.name } },
      'job failed',
    );
  });
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
