/** worker-parse: streams stored reports through the parser and stages write batches (parse queue). */
import { sweepReportTempDirs } from '@qpc/store/files';
import { runWorker, startWorkerApp } from '@qpc/worker-kit';
import { parseFinalFailure, parseHandler } from './processors.ts';

await startWorkerApp({
  name: 'worker-parse',
  prepare: async ({ logger }) => {
    // report copies left by a parse worker killed while reading (each the size of its report)
    const swept = await sweepReportTempDirs();
    if (swept.length) logger.warn({ removed: swept.length }, 'removed temporary report copies of stopped processes');
  },
  workers: ({ config, logger, store, enqueuer, common }) => ({
    'parse-worker': runWorker({
      ...common,
      queue: 'parse',
      concurrency: Math.min(config.QPC_WORKER_CONCURRENCY, 2),
      handlers: { parse: parseHandler({ store, logger, batchSize: config.QPC_BATCH_SIZE, maxPending: config.QPC_MAX_PENDING_BATCHES, enqueue: enqueuer }) },
      onFinalFailure: { parse: parseFinalFailure({ store, enqueue: enqueuer }) },
    }),
  }),
});
