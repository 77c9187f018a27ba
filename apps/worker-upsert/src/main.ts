/** worker-upsert: writes staged batches (upsert queue) and finalizes runs (finalize queue). */
import { countStatements, timeStatements } from '@qpc/store/db';
import { runWorker, startWorkerApp } from '@qpc/worker-kit';
import { finalizeFinalFailure, finalizeHandler, upsertFinalFailure, upsertHandler } from './processors.ts';

await startWorkerApp({
  name: 'worker-upsert',
  // the write worker counts its statements to the findings collection (logged with each finalized run)
  monitorCommands: true,
  workers: ({ config, logger, store, mongo, enqueuer, common }) => {
    const { finalize: enqueueFinalize, fetch: enqueueFetch } = enqueuer;
    const statements = countStatements(mongo);
    const statementTimes = timeStatements(mongo);
    const finalizeOpts = { store, enqueueFetch, logger, urbaThreshold: config.QPC_URBA_THRESHOLD, reportRetention: config.QPC_REPORT_RETENTION, statements, statementTimes };
    return {
      'upsert-worker': runWorker({
        ...common,
        queue: 'upsert',
        concurrency: config.QPC_WORKER_CONCURRENCY,
        handlers: { upsert: upsertHandler({ store, enqueueFinalize, logger }) },
        onFinalFailure: { upsert: upsertFinalFailure({ store, enqueueFinalize }) },
      }),
      'finalize-worker': runWorker({
        ...common,
        queue: 'finalize',
        concurrency: 1,
        handlers: { finalize: finalizeHandler(finalizeOpts) },
        onFinalFailure: { finalize: finalizeFinalFailure({ store, enqueueFetch }) },
      }),
    };
  },
});
