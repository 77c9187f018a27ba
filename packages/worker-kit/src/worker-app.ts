/**
 * The one bootstrap of the worker apps (worker-fetch, worker-parse, worker-upsert): configuration, logger,
 * the Redis eviction check, the store, the enqueuer, the app's workers, the heartbeat, SIGINT/SIGTERM and
 * the ordered close. An app's main.ts names itself and builds its workers from the context.
 */
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadConfig, type Config, type ConfigKey } from '@qpc/config';
import { createEnqueuer, type Enqueuer } from '@qpc/jobs';
import type { MongoClient } from 'mongodb';
import { connectStore, type Store } from '@qpc/store/db';
import { createLogger, redactUrl, type Logger } from './logger.ts';
import { assertNoEviction, connectionOptions, createRedis } from './redis.ts';
import { workerSettings, type RunWorkerOptions } from './run-worker.ts';
import { onShutdown, type Closer } from './shutdown.ts';
import { startHeartbeat } from './heartbeat.ts';
import { dbWatchSettings, watchDatabase } from './db-watch.ts';

export interface WorkerAppContext {
  config: Config;
  logger: Logger;
  store: Store;
  /** the store's client (for command monitoring) */
  mongo: MongoClient;
  /** every job this app enqueues goes through it (it names the job ids) */
  enqueuer: Enqueuer;
  /** a client connection kept open for the app's own use (keepRedis), else null */
  redis: Redis | null;
  /** what every runWorker of the app shares: worker connection, queue prefix, logger, lock and stall settings */
  common: Pick<RunWorkerOptions<never>, 'connection' | 'prefix' | 'logger' | 'worker'>;
}

export interface WorkerAppSpec {
  /** the app's name in its logs */
  name: string;
  /** configuration keys the app cannot start without */
  require?: ConfigKey[];
  /** keep the client Redis connection of the eviction check open for the app (closed at shutdown) */
  keepRedis?: boolean;
  /** the driver reports every command (countStatements) */
  monitorCommands?: boolean;
  /** runs once the store is connected, before the workers start (e.g. clean what a killed process left) */
  prepare?: (ctx: WorkerAppContext) => Promise<void>;
  /** the app's workers, by name (closed in this order, first at shutdown so active jobs finish) */
  workers: (ctx: WorkerAppContext) => Record<string, Worker>;
  env?: Record<string, string | undefined>;
  /** process.exit by default; tests pass their own */
  exit?: (code: number) => void;
}

export interface WorkerApp {
  ctx: WorkerAppContext;
  workers: Record<string, Worker>;
  /** what SIGINT/SIGTERM run: close everything in order, then exit */
  shutdown: (reason: string) => Promise<void>;
}

export async function startWorkerApp(spec: WorkerAppSpec): Promise<WorkerApp> {
  const config = loadConfig(spec.env ?? process.env, { require: spec.require ?? [] });
  const logger = createLogger(spec.name, config.QPC_LOG_LEVEL);
  const redis = createRedis(config.REDIS_URL, 'client', logger);
  await assertNoEviction(redis);
  if (!spec.keepRedis) await redis.quit();
  // the database mode (MongoDB or FerretDB's accommodations) is detected at connect unless QPC_DB_MODE names it
  const { client: mongo, store } = await connectStore(config.MONGO_URL, {
    ...(config.QPC_DB_MODE === 'auto' ? {} : { mode: config.QPC_DB_MODE }),
    bulkSize: config.QPC_DB_BULK_SIZE,
    monitorCommands: spec.monitorCommands ?? false,
  });
  const enqueuer = createEnqueuer({ connection: connectionOptions(config.REDIS_URL, 'producer'), prefix: config.QPC_QUEUE_PREFIX });
  const ctx: WorkerAppContext = {
    config,
    logger,
    store,
    mongo,
    enqueuer,
    redis: spec.keepRedis ? redis : null,
    common: { connection: connectionOptions(config.REDIS_URL, 'worker'), prefix: config.QPC_QUEUE_PREFIX, logger, worker: workerSettings(config) },
  };
  await spec.prepare?.(ctx);
  const workers = spec.workers(ctx);
  // healthy while every worker runs: a worker that stopped leaves the heartbeat file to age
  const stopHeartbeat = startHeartbeat(config.QPC_HEARTBEAT_FILE, () => Object.values(workers).every((w) => w.isRunning()));
  logger.info({ redis: redactUrl(config.REDIS_URL), prefix: config.QPC_QUEUE_PREFIX, dbMode: store.mode, bulkSize: store.bulkSize }, `${spec.name} started`);
  // a client that stays unusable after the database returned is reopened (db-watch.ts)
  const watch = dbWatchSettings(config);
  const dbWatch = watch ? watchDatabase({ client: mongo, url: config.MONGO_URL, logger, ...watch }) : null;
  const closers = (): Closer[] => [
    { name: 'database watch', close: async () => dbWatch?.stop() },
    ...Object.entries(workers).map(([name, w]) => ({ name, close: () => w.close() })),
    { name: 'heartbeat', close: async () => stopHeartbeat() },
    { name: 'queues', close: () => enqueuer.close() },
    ...(spec.keepRedis ? [{ name: 'redis', close: () => redis.quit() }] : []),
    { name: 'mongo', close: () => mongo.close() },
  ];
  const shutdown = onShutdown(closers, { timeoutMs: config.QPC_SHUTDOWN_TIMEOUT_MS, logger, ...(spec.exit ? { exit: spec.exit } : {}) });
  return { ctx, workers, shutdown };
}
