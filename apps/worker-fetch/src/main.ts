/** worker-fetch: sync planning (sync queue) and report downloads (fetch queue). */
import { loadConfig } from '@qpc/config';
import { createEnqueuer, jobIds } from '@qpc/jobs';
import { createQualysClient } from '@qpc/qualys-client';
import { secretBoxFromConfig } from '@qpc/secrets';
import { connectStore } from '@qpc/store';
import { assertNoEviction, connectionOptions, createLogger, createRedis, onShutdown, redactUrl, runWorker, startHeartbeat, workerSettings } from '@qpc/worker-kit';
import { fetchFinalFailure, fetchHandler, syncFinalFailure, syncHandler } from './processors.ts';

const config = loadConfig(process.env, { require: ['QPC_SECRET_KEY'] });
const logger = createLogger('worker-fetch', config.QPC_LOG_LEVEL);
const box = secretBoxFromConfig(config);
const redis = createRedis(config.REDIS_URL, 'client', logger);
await assertNoEviction(redis);
const { client: mongo, store } = await connectStore(config.MONGO_URL);
const enqueuer = createEnqueuer({ connection: connectionOptions(config.REDIS_URL, 'producer'), prefix: config.QPC_QUEUE_PREFIX });

const qualys = (creds: { url: string; username: string; password: string }) =>
  createQualysClient({ ...creds, redis, keyPrefix: config.QPC_QUEUE_PREFIX, logger, allowHttp: config.QPC_ALLOW_HTTP, allowPrivate: config.QPC_ALLOW_PRIVATE_QUALYS });
const enqueueFetch = (runId: string, connectorId: string) => enqueuer.add('fetch', { connectorId, runId }, { jobId: jobIds.fetch(runId) });
const enqueueParse = (runId: string, connectorId: string, gen: number) =>
  enqueuer.add('parse', { connectorId, runId }, { jobId: jobIds.parse(runId, gen) });

const connection = connectionOptions(config.REDIS_URL, 'worker');
const common = { connection, prefix: config.QPC_QUEUE_PREFIX, logger, worker: workerSettings(config) };
const syncWorker = runWorker({
  ...common,
  queue: 'sync',
  concurrency: 2,
  handlers: { sync: syncHandler({ store, box, qualys, enqueueFetch, logger }) },
  onFinalFailure: { sync: syncFinalFailure({ store }) },
});
const fetchWorker = runWorker({
  ...common,
  queue: 'fetch',
  concurrency: config.QPC_WORKER_CONCURRENCY,
  handlers: { fetch: fetchHandler({ store, box, qualys, enqueueParse, logger }) },
  onFinalFailure: { fetch: fetchFinalFailure({ store, enqueueFetch }) },
});
const stopHeartbeat = startHeartbeat(config.QPC_HEARTBEAT_FILE, () => fetchWorker.isRunning());
logger.info({ redis: redactUrl(config.REDIS_URL), prefix: config.QPC_QUEUE_PREFIX }, 'worker-fetch started');

onShutdown(
  () => [
    { name: 'sync-worker', close: () => syncWorker.close() },
    { name: 'fetch-worker', close: () => fetchWorker.close() },
    { name: 'heartbeat', close: async () => stopHeartbeat() },
    { name: 'queues', close: () => enqueuer.close() },
    { name: 'redis', close: () => redis.quit() },
    { name: 'mongo', close: () => mongo.close() },
  ],
  { timeoutMs: config.QPC_SHUTDOWN_TIMEOUT_MS, logger },
);
