/** @qpc/store/pipeline: Pipeline state: the run lifecycle (runs.repository.ts, the only writer of runs), sync locks, staged batches, hand-offs between stages, finalize, the stuck-run watchdog. */
export * from './pipeline/runs.repository.ts';
export * from './pipeline/sync-lock.ts';
export * from './pipeline/batches.repository.ts';
export * from './pipeline/batch-doc.ts';
export * from './pipeline/batch-records.ts';
export * from './pipeline/pipeline-steps.ts';
export * from './pipeline/stuck-runs.ts';
export * from './pipeline/run-finalizer.ts';
