/** @qpc/store/pipeline: Pipeline state: the run lifecycle (runs.repository.ts, the only writer of runs), sync locks, staged batches, hand-offs between stages, finalize, the stuck-run watchdog. */
export * from './runs.repository.ts';
export * from './sync-lock.ts';
export * from './batches.repository.ts';
export * from './batch-doc.ts';
export * from './batch-records.ts';
export * from './pipeline-steps.ts';
export * from './stuck-runs.ts';
export * from './run-finalizer.ts';
