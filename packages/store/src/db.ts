/** @qpc/store/db: The database handle and what every part of the store shares: connect, the db-mode seam, document shapes, errors, ids, indexes. */
export * from './store.ts';
export * from './db-mode.ts';
export * from './documents.ts';
export * from './errors.ts';
export * from './ids.ts';
export * from './index-spec.ts';
export * from './indexes.ts';
export * from './query-indexes.ts';
export * from './one-batch.ts';
export * from './statement-count.ts';
