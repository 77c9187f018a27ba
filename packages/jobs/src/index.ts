/**
 * The one catalogue of queues and jobs: names, payload schemas, types and default options.
 * Queue and job names are persisted data (they are part of Redis keys and job ids): never rename one.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { Queue, UnrecoverableError, type ConnectionOptions, type JobsOptions } from 'bullmq';

export const QUEUES = {
  sync: 'sync',
  fetch: 'fetch',
  parse: 'parse',
  upsert: 'upsert',
  finalize: 'finalize',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

const id = z.string().min(1).max(200);

export const trigger = z.enum(['schedule', 'on-demand', 'retry']);
export type Trigger = z.infer<typeof trigger>;

/** Every job of the catalogue: its queue, its payload schema, and default options. */
export const JOBS = {
  /** plan a sync of one connector: list reports, pick the new ones, create run records */
  sync: {
    queue: QUEUES.sync,
    schema: z.object({
      connectorId: id,
      trigger,
      /** on-demand only: ingest the newest report again even if it was ingested already */
      reingest: z.boolean().default(false),
      requestId: id.optional(),
    }),
  },
  /** stream one report into storage and check it is whole */
  fetch: {
    queue: QUEUES.fetch,
    schema: z.object({ connectorId: id, runId: id }),
  },
  /** stream a stored report through the parser, emit write batches */
  parse: {
    queue: QUEUES.parse,
    schema: z.object({ connectorId: id, runId: id }),
  },
  /** write one batch of hosts and findings */
  upsert: {
    queue: QUEUES.upsert,
    schema: z.object({ connectorId: id, runId: id, seq: z.number().int().min(0) }),
  },
  /** reconcile counts, apply transitions and URBA, close the run */
  finalize: {
    queue: QUEUES.finalize,
    schema: z.object({ connectorId: id, runId: id }),
  },
} as const satisfies Record<string, { queue: QueueName; schema: z.ZodType }>;

export type JobName = keyof typeof JOBS;
export type JobPayload<N extends JobName> = z.input<(typeof JOBS)[N]['schema']>;
export type JobData<N extends JobName> = z.output<(typeof JOBS)[N]['schema']>;

/** Jobs that live on one queue. */
export type JobsOfQueue<Q extends QueueName> = {
  [N in JobName]: (typeof JOBS)[N]['queue'] extends Q ? N : never;
}[JobName];

/** Deterministic job ids make every enqueue idempotent (BullMQ ignores a duplicate id). */
export const jobIds = {
  /** on-demand syncs: one job per request (scheduled syncs get BullMQ's own id per slot) */
  sync: (connectorId: string, requestId: string) => `sync-${connectorId}-${requestId}`,
  fetch: (runId: string, generation = 0) => (generation ? `fetch-${runId}-${generation}` : `fetch-${runId}`),
  parse: (runId: string, generation = 0) => (generation ? `parse-${runId}-${generation}` : `parse-${runId}`),
  upsert: (runId: string, seq: number) => `upsert-${runId}-${seq}`,
  /** generation: how many times the run was revived (a finalized run retried through Bull Board) */
  finalize: (runId: string, generation = 0) => (generation ? `finalize-${runId}-${generation}` : `finalize-${runId}`),
};

/** The scheduler id of a connector's schedule (one BullMQ job scheduler per connector). */
export const schedulerId = (connectorId: string) => `connector-${connectorId}`;

/** BullMQ deduplication id of a connector's on-demand syncs: one queued at a time. */
export const syncDedupId = (connectorId: string) => `sync-${connectorId}`;

/**
 * Retries back off exponentially from the job's delay, doubling up to a minute: 15 attempts span about
 * ten minutes, enough to outlast a database or Redis restart or a busy database (five attempts from 2 s
 * gave up after 30 s, failing batches that a restarted server would have taken). BullMQ runs it for
 * jobs whose backoff type is RETRY_BACKOFF (every worker of runWorker() registers it).
 */
export const RETRY_BACKOFF = 'capped-exponential';
export const MAX_RETRY_DELAY_MS = 60_000;

export function retryDelay(attempt: number, baseMs: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.max(0, attempt - 1));
}

/**
 * Defaults follow BullMQ's production guide: retries with (capped) exponential backoff, completed jobs
 * kept for a bounded time and count (they hold their payload in Redis), failed jobs kept longer for retry.
 */
export const defaultJobOptions: JobsOptions = {
  attempts: 15,
  backoff: { type: RETRY_BACKOFF, delay: 2_000 },
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 14 * 24 * 3600, count: 5000 },
};

export const jobOptions: Record<JobName, JobsOptions> = {
  sync: { ...defaultJobOptions, attempts: 3 },
  fetch: defaultJobOptions,
  parse: defaultJobOptions,
  // upsert jobs are many and small: keep few of them once done
  upsert: { ...defaultJobOptions, removeOnComplete: { age: 3600, count: 200 } },
  finalize: defaultJobOptions,
};

export class PayloadError extends UnrecoverableError {
  readonly code = 'JOB_PAYLOAD_INVALID';
  constructor(job: string, readonly issues: string[]) {
    super(`invalid payload for job ${job}: ${issues.join('; ')}`);
    this.name = 'PayloadError';
  }
}

/** Validate a payload at the boundary; a bad payload is not worth retrying. */
export function parsePayload<N extends JobName>(name: N, data: unknown): JobData<N> {
  const r = JOBS[name].schema.safeParse(data);
  if (!r.success) {
    throw new PayloadError(
      name,
      r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return r.data as JobData<N>;
}

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOBS, name);
}

/**
 * Close a BullMQ Queue or Worker without leaving a stray rejection behind. BullMQ 5 drops every
 * listener of a connection it closes; when that connection is still initializing (its Redis version
 * check in flight, e.g. while Redis is unreachable) the check fails after close() has returned and is
 * re-emitted as an 'error' nobody listens to, which surfaces as an unhandled rejection and, under
 * Node's default policy, kills a process that was only shutting down. A listener put back on each
 * closed connection absorbs that late failure; nothing else is ever emitted on a closed connection.
 * `close` is the closing call when it is not target.close() itself (a wrapper around it).
 */
export async function closeBullmq(target: { close(): Promise<void> }, close = () => target.close()): Promise<void> {
  const held = target as unknown as Record<string, unknown>;
  const connections = ['connection', 'blockingConnection']
    .map((k) => held[k])
    .filter((c): c is { on(event: 'error', fn: () => void): unknown } => typeof (c as { on?: unknown } | undefined)?.on === 'function');
  try {
    await close();
  } finally {
    for (const c of connections) c.on('error', () => undefined);
  }
}

/**
 * Adds an on-demand sync to the sync queue under its job id (jobIds.sync: the sync id the planner uses).
 * joinQueued (default): while a sync of the connector waits in the queue, the answer is that one
 * (joined: true) instead of a second.
 */
export async function addSyncRequest(
  queue: Queue,
  payload: { connectorId: string; reingest?: boolean; requestId?: string },
  opts: { joinQueued?: boolean } = {},
): Promise<{ jobId: string; joined: boolean }> {
  const requestId = payload.requestId ?? randomUUID();
  const jobId = jobIds.sync(payload.connectorId, requestId);
  const data = parsePayload('sync', { connectorId: payload.connectorId, trigger: 'on-demand', reingest: payload.reingest ?? false, requestId });
  const job = await queue.add('sync', data, {
    ...jobOptions.sync,
    jobId,
    ...(opts.joinQueued === false ? {} : { deduplication: { id: syncDedupId(payload.connectorId) } }),
  });
  const id = job.id ?? jobId;
  return { jobId: id, joined: id !== jobId };
}

/**
 * Enqueueing of the pipeline's jobs, the one place that names their job ids (they are persisted in Redis:
 * a duplicate id is ignored, which makes every enqueue idempotent). Payloads are validated before they
 * are added. The methods are bound: pass `enqueuer.finalize` where a function is wanted.
 */
export interface Enqueuer {
  requestSync(payload: { connectorId: string; reingest?: boolean; requestId?: string }, opts?: { joinQueued?: boolean }): Promise<{ jobId: string; joined: boolean }>;
  fetch(runId: string, connectorId: string): Promise<string | undefined>;
  /** generation: the run's resumes (a revived run's jobs get new ids) */
  parse(runId: string, connectorId: string, generation?: number): Promise<string | undefined>;
  upsert(runId: string, connectorId: string, seq: number): Promise<string | undefined>;
  finalize(runId: string, connectorId: string, generation?: number): Promise<string | undefined>;
  queue(name: QueueName): Queue;
  close(): Promise<void>;
}

export function createEnqueuer(opts: { connection: ConnectionOptions; prefix: string }): Enqueuer {
  const queues = new Map<QueueName, Queue>();
  const queue = (name: QueueName): Queue => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: opts.connection, prefix: opts.prefix });
      q.on('error', () => undefined); // connection errors surface on add(); an unhandled 'error' would crash
      queues.set(name, q);
    }
    return q;
  };
  const add = async <N extends JobName>(name: N, payload: JobPayload<N>, jobId: string): Promise<string | undefined> => {
    const data = parsePayload(name, payload);
    const job = await queue(JOBS[name].queue).add(name, data, { ...jobOptions[name], jobId });
    return job.id;
  };
  return {
    queue,
    requestSync: (payload, o) => addSyncRequest(queue(QUEUES.sync), payload, o),
    fetch: (runId, connectorId) => add('fetch', { connectorId, runId }, jobIds.fetch(runId)),
    parse: (runId, connectorId, generation = 0) => add('parse', { connectorId, runId }, jobIds.parse(runId, generation)),
    upsert: (runId, connectorId, seq) => add('upsert', { connectorId, runId, seq }, jobIds.upsert(runId, seq)),
    finalize: (runId, connectorId, generation = 0) => add('finalize', { connectorId, runId }, jobIds.finalize(runId, generation)),
    async close() {
      await Promise.all([...queues.values()].map((q) => closeBullmq(q)));
    },
  };
}

/**
 * Worker settings shared by every worker app. A SIGKILLed worker's active job is found stalled after
 * its lock expires (lockDuration) at the next stall check (stalledInterval), then handed to another
 * worker: about 15 s at worst here instead of BullMQ's 60 s default. Every job is idempotent, so a
 * stalled job run again is harmless; maxStalledCount allows a few crashes before the job is failed.
 */
export const workerDefaults = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 3 } as const;

/**
 * The pipeline's jobs of one run, by stage, for the run watchdog: whether a job is there and live, and
 * enqueueing it again under its deterministic id.
 */
type Stage = 'fetch' | 'parse' | 'upsert' | 'finalize';

const ENDED = new Set(['completed', 'failed']);

export function jobIdOf(stage: Stage, runId: string, key: number): string {
  return stage === 'upsert' ? jobIds.upsert(runId, key) : jobIds[stage](runId, key);
}

/** Whether a run's job of a stage is there: live (waiting, delayed, active...), ended, or missing. */
export function jobPresence(queueOf: (name: QueueName) => Queue) {
  return async (stage: Stage, runId: string, key: number): Promise<'live' | 'ended' | 'missing'> => {
    const state = await queueOf(stage).getJobState(jobIdOf(stage, runId, key));
    if (state === 'unknown') return 'missing';
    return ENDED.has(state) ? 'ended' : 'live';
  };
}

export function stageJobs(enqueuer: Pick<Enqueuer, 'queue' | 'fetch' | 'parse' | 'upsert' | 'finalize'>) {
  return {
    presence: jobPresence(enqueuer.queue),
    async enqueue(stage: Stage, run: { _id: string; connectorId: string }, key: number): Promise<unknown> {
      if (stage === 'fetch') return enqueuer.fetch(run._id, run.connectorId);
      if (stage === 'upsert') return enqueuer.upsert(run._id, run.connectorId, key);
      return enqueuer[stage](run._id, run.connectorId, key);
    },
  };
}
