/** worker-fetch: sync planning (sync queue) and report downloads (fetch queue). */
import { createQualysClient } from '@qpc/qualys-client';
import { secretBoxFromConfig } from '@qpc/secrets';
import { runWorker, startWorkerApp } from '@qpc/worker-kit';
import { fetchFinalFailure, fetchHandler, syncFinalFailure, syncHandler } from './processors.ts';

await startWorkerApp({
  name: 'worker-fetch',
  require: ['QPC_SECRET_KEY'],
  // the Qualys clients share their rate and concurrency limits through this connection
  keepRedis: true,
  workers: ({ config, logger, store, enqueuer, redis, common }) => {
    const box = secretBoxFromConfig(config);
    const qualys = (creds: { url: string; username: string; password: string }) =>
      createQualysClient({ ...creds, redis: redis!, keyPrefix: config.QPC_QUEUE_PREFIX, logger, allowHttp: config.QPC_ALLOW_HTTP, allowPrivate: config.QPC_ALLOW_PRIVATE_QUALYS });
    return {
      'sync-worker': runWorker({
        ...common,
        queue: 'sync',
        concurrency: 2,
        handlers: { sync: syncHandler({ store, box, qualys, enqueue: enqueuer, logger }) },
        onFinalFailure: { sync: syncFinalFailure({ store }) },
      }),
      'fetch-worker': runWorker({
        ...common,
        queue: 'fetch',
        concurrency: config.QPC_WORKER_CONCURRENCY,
        handlers: { fetch: fetchHandler({ store, box, qualys, enqueue: enqueuer, logger, ...(config.QPC_POSTURE_PAGE_ROWS > 0 ? { postureTruncationLimit: config.QPC_POSTURE_PAGE_ROWS } : {}) }) },
        onFinalFailure: { fetch: fetchFinalFailure({ store, enqueue: enqueuer }) },
      }),
    };
  },
});
