import t from 'tap';
import { Queue, Worker, type Job } from 'bullmq';
import { Writable } from 'node:stream';
import { testRedis, TcpProxy, waitFor, type Teardown } from '@qpc/testing';
import { RETRY_BACKOFF, jobOptions, retryDelay } from '@qpc/jobs';
import {
  runWorker,
  closeAll,
  connectionOptions,
  createLogger,
  assertNoEviction,
  RedisPolicyError,
  ShutdownTimeoutError,
  startHeartbeat,
  JobStalledError,
  rootCause,
  type FinalFailureContext,
  type FinalFailureHandler,
  type Handler,
} from '../src/index.ts';

function captureLogger() {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: createLogger('test', 'debug', dest as never), lines };
}

t.test('shutdown waits for the active job to complete', async (t) => {
  const { redis, prefix, redisUrl } = await testRedis(t);
  const { logger } = captureLogger();
  const queue = new Queue('fetch', { connection: redis, prefix });
  t.teardown(() => queue.close());
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let started = false;
  let finished = false;
  const worker = runWorker({
    queue: 'fetch',
    prefix,
    logger,
    connection: connectionOptions(redisUrl, 'worker'),
    handlers: {
      fetch: async () => {
        started = true;
        await gate;
        finished = true;
        return { outcome: 'done' };
      },
    },
  });
  t.teardown(() => worker.close(true));
  await queue.add('fetch', { connectorId: 'c', runId: 'r' }, { jobId: 'fetch-r' });
  await waitFor(() => started);
  const closing = closeAll([{ name: 'worker', close: () => worker.close() }], 10_000, logger);
  setTimeout(release, 300);
  await closing;
  t.ok(finished, 'the active job finished before close resolved');
  const job = await queue.getJob('fetch-r');
  t.equal(await job?.getState(), 'completed');
});

t.test('closeAll gives up after its timeout and names what was pending', async (t) => {
  const err = await closeAll(
    [
      { name: 'fast', close: async () => {} },
      { name: 'stuck', close: () => new Promise(() => {}) },
    ],
    200,
  ).catch((e: unknown) => e);
  t.type(err, ShutdownTimeoutError);
  t.same((err as ShutdownTimeoutError).pending, ['stuck']);
});

t.test('a bad payload fails once, without retries', async (t) => {
  const { redis, prefix, redisUrl } = await testRedis(t);
  const { logger } = captureLogger();
  const queue = new Queue('parse', { connection: redis, prefix });
  const worker = runWorker({
    queue: 'parse',
    prefix,
    logger,
    connection: connectionOptions(redisUrl, 'worker'),
    handlers: { parse: async () => ({ outcome: 'done' }) },
  });
  t.teardown(async () => {
    await worker.close();
    await queue.close();
  });
  await queue.add('parse', { runId: 42 }, { jobId: 'bad', attempts: 5 });
  await waitFor(async () => (await queue.getJobState('bad')) === 'failed');
  const job = (await queue.getJob('bad'))!;
  t.equal(job.attemptsMade, 1, 'not retried');
  t.match(job.failedReason, /invalid payload for job parse/);
});

/** An upsert queue and a worker on it with these handlers (on a fresh prefix); both closed after the test. */
async function upsertWorker(t: Teardown, upsert: Handler<'upsert'>, onFinal: FinalFailureHandler<'upsert'>): Promise<Queue> {
  const { redis, prefix, redisUrl } = await testRedis(t);
  const { logger } = captureLogger();
  const queue = new Queue('upsert', { connection: redis, prefix });
  const worker = runWorker({ queue: 'upsert', prefix, logger, connection: connectionOptions(redisUrl, 'worker'), handlers: { upsert }, onFinalFailure: { upsert: onFinal } });
  t.teardown(async () => {
    await worker.close();
    await queue.close();
  });
  return queue;
}

t.test('an error marked retryable: false fails its job at once, with its code; a retryable one is tried again', async (t) => {
  const attempts = new Map<string, number>();
  const causes: unknown[] = [];
  class CodedError extends Error {
    constructor(
      readonly code: string,
      message: string,
      readonly retryable: boolean,
    ) {
      super(message);
    }
  }
  const queue = await upsertWorker(
    t,
    async (data) => {
      attempts.set(data.runId, (attempts.get(data.runId) ?? 0) + 1);
      throw new CodedError('SOME_CODE', `refused ${data.runId}`, data.runId === 'again');
    },
    async (_data, err) => void causes.push(rootCause(err)),
  );
  await queue.add('upsert', { connectorId: 'c', runId: 'never', seq: 0 }, { jobId: 'n', attempts: 3 });
  await queue.add('upsert', { connectorId: 'c', runId: 'again', seq: 0 }, { jobId: 'a', attempts: 3 });
  await waitFor(async () => (await queue.getJobState('n')) === 'failed' && (await queue.getJobState('a')) === 'failed');
  t.equal(attempts.get('never'), 1, 'not retryable: one attempt of 3');
  t.equal(attempts.get('again'), 3, 'retryable: every attempt');
  t.equal((await queue.getJob('n'))?.failedReason, 'SOME_CODE: refused never', 'the reason names the code');
  t.ok(causes.every((c) => c instanceof CodedError) && causes.length === 2, 'the final-failure handlers see the original errors');
});

t.test('a programming error fails its job at once; a wrapped network error and a database error keep the retry budget', async (t) => {
  const attempts = new Map<string, number>();
  const finals = new Map<string, Error>();
  const queue = await upsertWorker(
    t,
    async (data) => {
      attempts.set(data.runId, (attempts.get(data.runId) ?? 0) + 1);
      switch (data.runId) {
        case 'type-error': {
          const record = null as unknown as { hostKey: string };
          return { outcome: 'done', key: record.hostKey };
        }
        case 'reference-error':
          throw new ReferenceError('notDefined is not defined');
        case 'fetch-failed':
          // what undici's fetch throws when the connection is refused
          throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
        default:
          throw Object.assign(new Error('connection 3 to 127.0.0.1:27017 closed'), { name: 'MongoNetworkError' });
      }
    },
    async (data, err) => void finals.set(data.runId, err),
  );
  for (const id of ['type-error', 'reference-error', 'fetch-failed', 'db-down']) {
    await queue.add('upsert', { connectorId: 'c', runId: id, seq: 0 }, { jobId: id, attempts: 3 });
  }
  await waitFor(async () => (await Promise.all(['type-error', 'reference-error', 'fetch-failed', 'db-down'].map((id) => queue.getJobState(id)))).every((s) => s === 'failed'));
  t.equal(attempts.get('type-error'), 1, 'TypeError: one attempt of 3');
  t.equal(attempts.get('reference-error'), 1, 'ReferenceError: one attempt of 3');
  t.equal(attempts.get('fetch-failed'), 3, 'a TypeError wrapping a socket error: every attempt');
  t.equal(attempts.get('db-down'), 3, 'a database error: every attempt');
  t.match((await queue.getJob('type-error'))?.failedReason, /^TypeError: Cannot read properties of null \(reading 'hostKey'\)/, 'the reason names the error class and message');
  t.ok(rootCause(finals.get('type-error')) instanceof TypeError, 'the final-failure handler sees the original TypeError');
});

t.test('onFinalFailure: called once, on the last attempt only, with the handler\'s error', async (t) => {
  let attempts = 0;
  const calls: { data: unknown; err: Error; via: FinalFailureContext['via'] }[] = [];
  const queue = await upsertWorker(
    t,
    async () => {
      attempts++;
      throw new Error(`boom ${attempts}`);
    },
    async (data, err, { via }) => {
      calls.push({ data, err, via });
    },
  );
  await queue.add('upsert', { connectorId: 'c', runId: 'r', seq: 3 }, { jobId: 'u', attempts: 3 });
  await waitFor(async () => (await queue.getJobState('u')) === 'failed');
  await new Promise((r) => setTimeout(r, 300)); // a second (event) call would come now
  t.equal(attempts, 3);
  t.equal(calls.length, 1, 'called once: the failed event does not repeat what the processor did');
  t.same(calls[0]?.data, { connectorId: 'c', runId: 'r', seq: 3 });
  t.equal(calls[0]?.err.message, 'boom 3');
  t.equal(calls[0]?.via, 'processor');
});

t.test('onFinalFailure: a job that stalled out is failed without the handler and still gets it', async (t) => {
  const { redis, prefix, redisUrl } = await testRedis(t);
  const { logger, lines } = captureLogger();
  const queue = new Queue('fetch', { connection: redis, prefix });
  t.teardown(() => queue.close());
  // A takes the job and hangs without renewing its lock: a worker that died or whose event loop is blocked
  let taken = false;
  const dead = new Worker(
    'fetch',
    async () => {
      taken = true;
      await new Promise(() => {});
    },
    { connection: connectionOptions(redisUrl, 'worker'), prefix, skipLockRenewal: true, skipStalledCheck: true, lockDuration: 1000 },
  );
  t.teardown(() => dead.close(true));
  await queue.add('fetch', { connectorId: 'c', runId: 'r1' }, { jobId: 'f', attempts: 5 });
  await waitFor(() => taken);
  let ran = 0;
  const calls: { data: unknown; err: Error; ctx: FinalFailureContext }[] = [];
  const worker = runWorker({
    queue: 'fetch',
    prefix,
    logger,
    connection: connectionOptions(redisUrl, 'worker'),
    worker: { lockDuration: 1000, stalledInterval: 300, maxStalledCount: 0 },
    handlers: {
      fetch: async () => {
        ran++;
        return { outcome: 'done' };
      },
    },
    onFinalFailure: {
      fetch: async (data, err, ctx) => {
        calls.push({ data, err, ctx });
      },
    },
  });
  t.teardown(() => worker.close());
  await waitFor(async () => (await queue.getJobState('f')) === 'failed', 15_000);
  await waitFor(() => calls.length > 0, 5_000);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(ran, 0, 'the handler never ran again');
  t.equal(calls.length, 1, 'called once');
  t.same(calls[0]?.data, { connectorId: 'c', runId: 'r1' });
  t.type(calls[0]?.err, JobStalledError);
  t.match(calls[0]?.err.message, /job stalled more than allowable limit: the fetch job was left unfinished 1 time/);
  t.equal(calls[0]?.ctx.via, 'event');
  t.equal(calls[0]?.ctx.job.id, 'f');
  t.match((await queue.getJob('f'))?.failedReason, /stalled more than allowable limit/);
  t.ok(lines.some((l) => l.includes('failure recorded') && l.includes('"via":"event"')), 'the recorded failure is logged');
});

t.test('onFinalFailure: an error in it is logged, never thrown; the failed event tries once more', async (t) => {
  const { redis, prefix, redisUrl } = await testRedis(t);
  const { logger, lines } = captureLogger();
  const queue = new Queue('parse', { connection: redis, prefix });
  const done: string[] = [];
  const vias: string[] = [];
  const worker = runWorker({
    queue: 'parse',
    prefix,
    logger,
    connection: connectionOptions(redisUrl, 'worker'),
    handlers: {
      parse: async (data) => {
        if (data.runId === 'bad') throw new Error('no luck');
        done.push(data.runId);
        return { outcome: 'done' };
      },
    },
    onFinalFailure: {
      parse: async (_data, _err, { via }) => {
        vias.push(via);
        if (via === 'processor') throw Object.assign(new Error('store away'), { password: 'hunter2' });
      },
    },
  });
  t.teardown(async () => {
    await worker.close();
    await queue.close();
  });
  await queue.add('parse', { connectorId: 'c', runId: 'bad' }, { jobId: 'p1', attempts: 1 });
  await waitFor(() => vias.length === 2);
  await queue.add('parse', { connectorId: 'c', runId: 'good' }, { jobId: 'p2' });
  await waitFor(() => done.includes('good'));
  t.same(vias, ['processor', 'event'], 'the event retried what the processor could not record');
  t.equal(await queue.getJobState('p1'), 'failed');
  t.match((await queue.getJob('p1'))?.failedReason, 'no luck', 'the job fails with its own error');
  t.ok(lines.some((l) => l.includes('recording a final job failure failed') && l.includes('store away')), 'the error was logged');
  t.notOk(lines.some((l) => l.includes('hunter2')), 'only name and message are logged');
});

t.test('a worker that loses Redis for a few seconds goes on processing afterwards', async (t) => {
  const { redis, prefix, redisUrl } = await testRedis(t);
  const target = new URL(redisUrl);
  const proxy = await new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) }).listen();
  t.teardown(() => proxy.close());
  const { logger, lines } = captureLogger();
  const queue = new Queue('sync', { connection: redis, prefix });
  const done: string[] = [];
  const viaProxy = `redis://127.0.0.1:${proxy.port}`;
  const worker = runWorker({
    queue: 'sync',
    prefix,
    logger,
    connection: connectionOptions(viaProxy, 'worker'),
    handlers: {
      sync: async (data) => {
        done.push(data.connectorId);
        return { outcome: 'done' };
      },
    },
  });
  t.teardown(async () => {
    proxy.restore();
    await worker.close();
    await queue.close();
  });
  await queue.add('sync', { connectorId: 'before', trigger: 'schedule' });
  await waitFor(() => done.includes('before'));
  proxy.cut();
  await queue.add('sync', { connectorId: 'during', trigger: 'schedule' });
  await new Promise((r) => setTimeout(r, 3000));
  t.notOk(done.includes('during'), 'nothing processed while Redis is unreachable');
  proxy.restore();
  await queue.add('sync', { connectorId: 'after', trigger: 'schedule' });
  await waitFor(() => done.includes('during') && done.includes('after'), 30_000);
  t.pass('jobs added during and after the outage are processed');
  t.ok(lines.some((l) => l.includes('redis connection lost')), 'the outage was logged');
});

t.test('assertNoEviction refuses an evicting Redis with a fix in the message', async (t) => {
  const { redis } = await testRedis(t);
  await t.resolves(assertNoEviction(redis), 'the shared Redis is noeviction');
  const fake = {
    config: async () => ['maxmemory-policy', 'allkeys-lru'],
  } as unknown as Parameters<typeof assertNoEviction>[0];
  const err = await assertNoEviction(fake).catch((e: unknown) => e);
  t.type(err, RedisPolicyError);
  t.match((err as Error).message, /CONFIG SET maxmemory-policy noeviction/);
});

t.test('the logger redacts secrets by itself', async (t) => {
  const { logger, lines } = captureLogger();
  logger.info({ connector: { password: 'hunter2-canary' }, headers: { authorization: 'Basic abc' } }, 'x');
  t.notMatch(lines.join(''), /hunter2-canary|Basic abc/);
  t.match(lines.join(''), /\[redacted\]/);
});

t.test('connectionOptions parses a redis URL', async (t) => {
  const o = connectionOptions('redis://u:p%40ss@10.1.2.3:6380/2', 'worker');
  t.match(o, { host: '10.1.2.3', port: 6380, username: 'u', password: 'p@ss', db: 2, maxRetriesPerRequest: null });
  void ({} as Job);
});

t.test('heartbeat touches its file only while healthy', async (t) => {
  const { mkdtemp, readFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(`${tmpdir()}/hb-`);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = `${dir}/hb`;
  let healthy = false;
  const stop = startHeartbeat(file, () => healthy, 20);
  t.teardown(stop);
  await new Promise((r) => setTimeout(r, 80));
  await t.rejects(readFile(file), 'no file while unhealthy');
  healthy = true;
  await waitFor(async () => (await readFile(file, 'utf8').catch(() => '')).length > 0, 2000);
  const stamp = async () => Number(await readFile(file, 'utf8').catch(() => '')) || 0;
  const first = await waitFor(stamp, 2000);
  // refreshed by a later beat (polled: timer resolution under load is coarse)
  t.ok(await waitFor(async () => (await stamp()) > first, 5000), 'refreshed');
  healthy = false;
  await new Promise((r) => setTimeout(r, 60)); // a write already under way lands
  const last = await stamp();
  await new Promise((r) => setTimeout(r, 150));
  t.equal(await stamp(), last, 'not refreshed once unhealthy');
});

t.test('the default retry budget outlasts a database that fails for a while (7 transient errors), with capped backoff', async (t) => {
  let attempts = 0;
  const queue = await upsertWorker(
    t,
    async () => {
      attempts++;
      if (attempts <= 7) throw Object.assign(new Error('database is locked'), { retryable: true });
      return { outcome: 'done' };
    },
    async () => undefined,
  );
  // the catalogue's options, with the waits shortened (the backoff type is the catalogue's)
  await queue.add('upsert', { connectorId: 'c', runId: 'busy', seq: 0 }, { ...jobOptions.upsert, jobId: 'busy', backoff: { type: RETRY_BACKOFF, delay: 5 } });
  await waitFor(async () => ((await queue.getJobState('busy')) === 'completed' ? true : null), 20_000);
  t.equal(attempts, 8, 'seven failures, then done');
  t.same([1, 2, 5, 6, 7, 10].map((n) => retryDelay(n, 2_000)), [2_000, 4_000, 32_000, 60_000, 60_000, 60_000], 'waits double from 2 s up to a minute');
});

t.test('a job retried by hand after it used up its attempts gets a fresh budget (it fails for good only after as many more)', async (t) => {
  let failing = true;
  let attempts = 0;
  let finals = 0;
  const queue = await upsertWorker(
    t,
    async () => {
      attempts++;
      if (failing || attempts < 6) throw Object.assign(new Error('database is locked'), { retryable: true });
      return { outcome: 'done' };
    },
    async () => void finals++,
  );
  await queue.add('upsert', { connectorId: 'c', runId: 'r', seq: 0 }, { jobId: 'j', attempts: 3, backoff: { type: RETRY_BACKOFF, delay: 5 } });
  await waitFor(async () => ((await queue.getJobState('j')) === 'failed' ? true : null), 20_000);
  t.equal(attempts, 3, 'failed for good after its 3 attempts');
  t.equal(finals, 1);
  // the database is back but still busy for two more tries; the board retries the job as it does
  failing = false;
  const job = await queue.getJob('j');
  await job!.retry('failed');
  await waitFor(async () => {
    const s = await queue.getJobState('j');
    return s === 'completed' || s === 'failed' ? s : null;
  }, 20_000);
  t.equal(await queue.getJobState('j'), 'completed', 'the retried job rode out two more transient errors');
  t.equal(attempts, 6);
  t.equal(finals, 1, 'no second final failure');
  t.same((await queue.getJob('j'))?.data, { connectorId: 'c', runId: 'r', seq: 0, retryBase: 3 }, 'the retry base is kept with the job');
});
