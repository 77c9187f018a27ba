/** worker-parse: streams stored reports through the parser and stages write batches (parse queue). */
import { loadConfig } from '@qpc/config';
import { createEnqueuer } from '@qpc/jobs';
import { connectStore, sweepReportTempDirs } from '@qpc/store';
import { assertNoEviction, connectionOptions, createLogger, createRedis, onShutdown, redactUrl, runWorker, startHeartbeat, workerSettings } from '@qpc/worker-kit';
import { parseFinalFailure, parseHandler } from './processors.ts';

const config = loadConfig(process.env);
const logger = createLogger('worker-parse', config.QPC_LOG_LEVEL);
const redis = createRedis(config.REDIS_URL, 'client', logger);
await assertNoEviction(redis);
await redis.quit();
const { client: mongo, store } = await connectStore(config.MONGO_URL);
// report copies left by a parse worker killed while reading (each the size of its report)
const swept = await sweepReportTempDirs();
if (swept.length) logger.warn({ removed: swept.length }, 'removed temporary report copies of stopped processes');
const enqueuer = createEnqueuer({ connection: connectionOptions(config.REDIS_URL, 'producer'), prefix: config.QPC_QUEUE_PREFIX });

const worker = runWorker({
  queue: 'parse',
  connection: connectionOptions(config.REDIS_URL, 'worker'),
  prefix: config.QPC_QUEUE_PREFIX,
  logger,
  worker: workerSettings(config),
  concurrency: Math.min(config.QPC_WORKER_CONCURRENCY, 2),
  handlers: {
    parse: parseHandler({
      store,
      logger,
      batchSize: config.QPC_BATCH_SIZE,
      maxPending: config.QPC_MAX_PENDING_BATCHES,
      enqueue: enqueuer,
    }),
  },
  onFinalFailure: { parse: parseFinalFailure({ store, enqueue: enqueuer }) },
});
const stopHeartbeat = startHeartbeat(config.QPC_HEARTBEAT_FILE, () => worker.isRunning());
logger.info({ redis: redactUrl(config.REDIS_URL), prefix: config.QPC_QUEUE_PREFIX }, 'worker-parse started');

onShutdown(
  () => [
    { name: 'parse-worker', close: () => worker.close() },
    { name: 'heartbeat', close: async () => stopHeartbeat() },
    { name: 'queues', close: () => enqueuer.close() },
    { name: 'mongo', close: () => mongo.close() },
  ],
  { timeoutMs: config.QPC_SHUTDOWN_TIMEOUT_MS, logger },
);
