/** worker-upsert: writes staged batches (upsert queue) and finalizes runs (finalize queue). */
import { loadConfig } from '@qpc/config';
import { createEnqueuer, jobIds } from '@qpc/jobs';
import { connectStore, countStatements } from '@qpc/store';
import { assertNoEviction, connectionOptions, createLogger, createRedis, onShutdown, redactUrl, runWorker, startHeartbeat, workerSettings } from '@qpc/worker-kit';
import { finalizeFinalFailure, finalizeHandler, upsertFinalFailure, upsertHandler } from './processors.ts';

const config = loadConfig(process.env);
const logger = createLogger('worker-upsert', config.QPC_LOG_LEVEL);
const redis = createRedis(config.REDIS_URL, 'client', logger);
await assertNoEviction(redis);
await redis.quit();
const { client: mongo, store } = await connectStore(config.MONGO_URL, {
  mode: config.QPC_DB_MODE === 'auto' ? undefined : config.QPC_DB_MODE,
  bulkSize: config.QPC_DB_BULK_SIZE,
  monitorCommands: true,
});
const statements = countStatements(mongo);
const enqueuer = createEnqueuer({ connection: connectionOptions(config.REDIS_URL, 'producer'), prefix: config.QPC_QUEUE_PREFIX });
const enqueueFinalize = (runId: string, connectorId: string, gen: number) =>
  enqueuer.add('finalize', { connectorId, runId }, { jobId: jobIds.finalize(runId, gen) });
const enqueueFetch = (runId: string, connectorId: string) => enqueuer.add('fetch', { connectorId, runId }, { jobId: jobIds.fetch(runId) });

const connection = connectionOptions(config.REDIS_URL, 'worker');
const common = { connection, prefix: config.QPC_QUEUE_PREFIX, logger, worker: workerSettings(config) };
const upsertWorker = runWorker({
  ...common,
  queue: 'upsert',
  concurrency: config.QPC_WORKER_CONCURRENCY,
  handlers: { upsert: upsertHandler({ store, enqueueFinalize, logger }) },
  onFinalFailure: { upsert: upsertFinalFailure({ store, enqueueFinalize }) },
});
const finalizeWorker = runWorker({
  ...common,
  queue: 'finalize',
  concurrency: 1,
  handlers: { finalize: finalizeHandler({ store, enqueueFetch, logger, urbaThreshold: config.QPC_URBA_THRESHOLD, reportRetention: config.QPC_REPORT_RETENTION, statements }) },
  onFinalFailure: { finalize: finalizeFinalFailure({ store, enqueueFetch }) },
});
const stopHeartbeat = startHeartbeat(config.QPC_HEARTBEAT_FILE, () => upsertWorker.isRunning());
logger.info({ redis: redactUrl(config.REDIS_URL), prefix: config.QPC_QUEUE_PREFIX, dbMode: store.mode, bulkSize: store.bulkSize }, 'worker-upsert started');

onShutdown(
  () => [
    { name: 'upsert-worker', close: () => upsertWorker.close() },
    { name: 'finalize-worker', close: () => finalizeWorker.close() },
    { name: 'heartbeat', close: async () => stopHeartbeat() },
    { name: 'queues', close: () => enqueuer.close() },
    { name: 'mongo', close: () => mongo.close() },
  ],
  { timeoutMs: config.QPC_SHUTDOWN_TIMEOUT_MS, logger },
);
