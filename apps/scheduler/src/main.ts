/** scheduler: keeps one BullMQ job scheduler per connector schedule in step with MongoDB. */
import { Queue } from 'bullmq';
import { loadConfig } from '@qpc/config';
import { QUEUES, closeBullmq, createEnqueuer, stageJobs } from '@qpc/jobs';
import { connectStore } from '@qpc/store/db';
import { recoverStuckRuns } from '@qpc/store/pipeline';
import { assertNoEviction, connectionOptions, createLogger, createRedis, onShutdown, redactUrl, startHeartbeat, dbWatchSettings, watchDatabase } from '@qpc/worker-kit';
import { scheduleReconciler, startReconciler } from './schedules.service.ts';

const config = loadConfig(process.env);
const logger = createLogger('scheduler', config.QPC_LOG_LEVEL);
const redis = createRedis(config.REDIS_URL, 'client', logger);
await assertNoEviction(redis);
const { client: mongo, store } = await connectStore(config.MONGO_URL);
const syncQueue = new Queue(QUEUES.sync, { connection: connectionOptions(config.REDIS_URL, 'producer'), prefix: config.QPC_QUEUE_PREFIX });
syncQueue.on('error', (err) => logger.warn({ err: { message: err.message } }, 'queue error'));

let healthy = false;
const reconcile = scheduleReconciler(store, syncQueue, logger);
const stop = startReconciler(
  async () => {
    await reconcile();
    healthy = true;
  },
  1_000,
  logger,
);
// runs that stopped advancing with no job left to move them on are resumed or failed (their lock goes)
const pipeline = createEnqueuer({ connection: connectionOptions(config.REDIS_URL, 'producer'), prefix: config.QPC_QUEUE_PREFIX });
const stopWatchdog = startReconciler(
  async () => {
    for (const r of await recoverStuckRuns(store, stageJobs(pipeline), config.QPC_STUCK_AFTER_MS)) {
      logger.warn(r, r.action === 'resumed' ? 'stuck run resumed: its missing jobs were enqueued' : 'stuck run failed: its job ended without moving it on');
    }
  },
  Math.min(30_000, config.QPC_STUCK_AFTER_MS),
  logger,
);
const stopHeartbeat = startHeartbeat(config.QPC_HEARTBEAT_FILE, () => healthy && redis.status === 'ready');
logger.info({ redis: redactUrl(config.REDIS_URL), prefix: config.QPC_QUEUE_PREFIX }, 'scheduler started');

// a client that stays unusable after the database returned is reopened (worker-kit's db-watch.ts)
const watch = dbWatchSettings(config);
const dbWatch = watch ? watchDatabase({ client: mongo, url: config.MONGO_URL, logger, ...watch }) : null;
onShutdown(
  () => [
    { name: 'database watch', close: async () => dbWatch?.stop() },
    { name: 'reconciler', close: stop },
    { name: 'watchdog', close: stopWatchdog },
    { name: 'pipeline queues', close: () => pipeline.close() },
    { name: 'heartbeat', close: async () => stopHeartbeat() },
    { name: 'queue', close: () => closeBullmq(syncQueue) },
    { name: 'redis', close: () => redis.quit() },
    { name: 'mongo', close: () => mongo.close() },
  ],
  { timeoutMs: config.QPC_SHUTDOWN_TIMEOUT_MS, logger },
);
